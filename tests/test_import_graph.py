"""The package's shape, read from its own import statements: which part may import which
(written down once, in ``MAY_IMPORT``), no import circle, and no module over 400 lines.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "skupper_podman"
MAX_LINES = 400

# part -> the parts it may import (besides itself). Parts are the package's first-level
# modules and sub-packages; everything may import `errors`.
MAY_IMPORT: dict[str, set[str]] = {
    "router": {"certs", "files", "resources"},  # one signer, one file writer, one YAML writer
    "errors": set(),
    "progress": set(),  # long work names its steps; whoever runs it shows them
    "yaml_input": set(),
    "files": set(),
    "paths": set(),
    "certs": set(),
    "engines": set(),
    "resources": {"yaml_input"},
    "management": {"certs"},
    "healthcheck": {"certs", "management"},
    "image": {"engines", "progress"},
    "routerconfig": {"certs", "resources", "router"},
    "platforms": {"engines", "image", "paths"},
    "site": {
        "<root>", "certs", "files", "management", "paths", "platforms", "progress", "resources",
        "router", "routerconfig", "units", "yaml_input",
    },
    "units": {"engines"},  # renders from plain values (and container specs) the site gives it
    "bundle": {"<root>", "files", "image", "paths", "progress", "resources"},
    "cli": {
        "bundle", "console", "image", "paths", "progress", "resources", "site", "units",
        "yaml_input",
    },
    "forward": set(),
    "console": {"management", "router"},
    "<root>": set(),
}  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path], *, typing: bool) -> set[str]:
    """The package modules ``name`` imports; ``typing``: also under ``if TYPE_CHECKING``."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def target(node: ast.ImportFrom) -> str:
        if node.level == 0:
            return node.module or ""
        base = name.split(".")[: None if is_package else -1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, node.module] if node.module else base)

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                if typing:
                    visit(node.body)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                module = target(node)
                for alias in node.names:
                    full = f"{module}.{alias.name}"
                    found.add(full if full in modules else module)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    for child in inner:
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(ast.parse(path.read_text()).body)
    return {module for module in found if module in modules and module != name}


def _graph(*, typing: bool) -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules, typing=typing) for name, path in modules.items()}


def _circles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: set[frozenset[str]] = set()

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.add(frozenset(group))

    for node in graph:
        if node not in index:
            connect(node)
    return circles


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def test_every_part_imports_only_what_it_may() -> None:
    crossings = set()
    for module, imported in _graph(typing=False).items():
        for other in imported:
            here, there = _part(module), _part(other)
            if here != there and there != "errors" and there not in MAY_IMPORT[here]:
                crossings.add(f"{module} -> {other}")
    assert crossings == set(), "imports against the layering"


def test_no_import_circle() -> None:
    assert _circles(_graph(typing=False)) == set()
    assert _circles(_graph(typing=True)) == set()  # nor through imports for types only


def test_no_module_over_400_lines() -> None:
    lengths = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    long = {name: lines for name, lines in lengths.items() if lines > MAX_LINES}
    assert long == {}, "split rather than grow"


def test_the_router_loads_no_library_that_only_a_redemption_needs() -> None:
    """cryptography (about 11 MB) and pydantic are for grant redemptions: an idle router
    process must not carry them."""
    probe = (
        "import sys, skupper_podman.router.main; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'cryptography', 'pydantic'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
