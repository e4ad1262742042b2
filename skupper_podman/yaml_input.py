"""YAML from users and other sites, read in one place with limits.

Skupper YAML is small and plain: a few documents of mappings, lists and scalars. So a
file or stdin is read up to ``MAX_BYTES`` only, aliases (``*name``: what makes a
"billion laughs" or a merge-key bomb) are refused, nesting stops at ``MAX_DEPTH`` and a
stream at ``MAX_DOCUMENTS``. Every document comes back with its node, whose marks give
line numbers for errors.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

from skupper_podman.errors import SkupperError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_DOCUMENTS = 1000


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                problem="aliases (*name) are not supported here", problem_mark=mark
            )
        return super().compose_node(parent, index)


def read_text(path: Path | str, what: str = "") -> str:
    """A file's text (``-``: stdin), refused past MAX_BYTES without reading it all;
    ``what`` names the file in errors ("link file")."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as stream:
                data = stream.read(MAX_BYTES + 1)
    except OSError as error:
        name = f"{what} {path}" if what else str(path)
        raise SkupperError(f"cannot read {name}: {error.strerror or error}") from None
    if len(data) > MAX_BYTES:
        raise SkupperError(f"{path}: larger than {MAX_BYTES // 1024} KiB: not a Skupper YAML file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SkupperError(f"{path}: not UTF-8 text") from None


def load_documents(text: str, source: str) -> list[tuple[Any, yaml.Node | None]]:
    """Each document of ``text`` (None for an empty one) with its node."""
    if len(text) > MAX_BYTES:
        raise SkupperError(f"{source}: larger than {MAX_BYTES // 1024} KiB: not Skupper YAML")
    if _flow_depth(text) > MAX_DEPTH:
        raise SkupperError(f"{source}: nested deeper than {MAX_DEPTH} levels")
    documents: list[tuple[Any, yaml.Node | None]] = []
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            if len(documents) == MAX_DOCUMENTS:
                raise SkupperError(f"{source}: more than {MAX_DOCUMENTS} documents")
            node = loader.get_node()
            if node is not None:
                _check_depth(node, source)
            documents.append((loader.construct_document(node) if node else None, node))
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        raise SkupperError(f"{source}: not valid YAML: {detail}") from None
    except RecursionError:
        raise SkupperError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ and { (quotes not minded: no Skupper value needs that many
    brackets). PyYAML's scanner reads a whole flow collection ahead before its composer
    can stop it, so a long run of brackets is refused before parsing."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(text):
        depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


_BRACKETS = re.compile(r"[\[\]{}]")


def _check_depth(root: yaml.Node, source: str) -> None:
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            line = node.start_mark.line + 1
            raise SkupperError(f"{source}: line {line}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.SequenceNode):
            stack += [(child, depth + 1) for child in node.value]
        elif isinstance(node, yaml.MappingNode):
            stack += [(value, depth + 1) for _key, value in node.value]
