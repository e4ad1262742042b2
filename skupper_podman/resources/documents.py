"""Resources as YAML documents: parsing one (the kind picks the model), loading and dumping
many, and a namespace's resources sorted by kind."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from pydantic import (
    ValidationError,
)

from skupper_podman import yaml_input
from skupper_podman.errors import SkupperError

from .kinds import (
    RESOURCE_ADAPTER,
    Certificate,
    Connector,
    Endpoint,
    Link,
    LinkSpec,
    Listener,
    Metadata,
    MultiKeyListener,
    Resource,
    RouterAccess,
    Secret,
    SecuredAccess,
    Site,
)

KINDS = (
    "Site",
    "Link",
    "Listener",
    "Connector",
    "RouterAccess",
    "Secret",
    "AccessGrant",
    "AccessToken",
    "MultiKeyListener",
    "Certificate",
    "SecuredAccess",
)


def describe_validation_error(error: ValidationError, where: str | None = None) -> str:
    """One line that says which field is wrong and why, in plain words."""
    problems = []
    for item in error.errors():
        location = list(item["loc"])
        if location and location[0] in KINDS:  # the discriminated-union tag adds nothing
            location = location[1:]
        field = ".".join(str(part) for part in location) or "document"
        message = item["msg"].removeprefix("Value error, ").rstrip(".")
        problems.append(f"{field}: {message}")
    prefix = f"{where}: " if where else ""
    return prefix + "; ".join(problems)


def parse_resource(document: Any, where: str) -> Resource:
    """Validate one decoded YAML document; raise SkupperError naming where it came from."""
    if not isinstance(document, dict):
        raise SkupperError(f"{where}: expected a mapping with apiVersion, kind and metadata")
    kind = document.get("kind")
    if kind not in KINDS:
        raise SkupperError(
            f"{where}: unsupported kind {kind!r} (expected one of {', '.join(KINDS)})"
        )
    try:
        return RESOURCE_ADAPTER.validate_python(document)
    except ValidationError as error:
        raise SkupperError(describe_validation_error(error, f"{where} ({kind})")) from None


def load_yaml(text: str, source: str) -> list[Resource]:
    """Every resource in a multi-document YAML text; empty documents are skipped."""
    documents = [d for d, _node in yaml_input.load_documents(text, source) if d is not None]
    if not documents:
        raise SkupperError(f"{source}: no resources in the file")
    return [
        parse_resource(document, f"{source} document {index}")
        for index, document in enumerate(documents, start=1)
    ]


def to_document(resource: Resource) -> dict[str, Any]:
    """The resource as Skupper YAML would have it (camelCase keys, no empty fields)."""
    dumped = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
    ordered = {key: dumped.pop(key) for key in _DOCUMENT_KEY_ORDER if key in dumped}
    return _drop_empty(ordered | dumped)


_DOCUMENT_KEY_ORDER = ("apiVersion", "kind", "metadata", "type", "spec", "data")


def _drop_empty(value: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            item = _drop_empty(item)
        if item in ({}, []) and key != "spec":
            continue
        cleaned[key] = item
    return cleaned


def dump_yaml(resources: Iterable[Resource]) -> str:
    """A multi-document YAML text of `resources`."""
    text: str = yaml.safe_dump_all(
        [to_document(r) for r in resources], sort_keys=False, default_flow_style=False
    )
    return text


def link_file(name: str, endpoints: Iterable[Endpoint], cost: int, files: dict[str, bytes]) -> str:
    """A link file: the Link ``name`` to ``endpoints`` and the Secret holding its client
    credential (``files``: ca.crt, tls.crt, tls.key), as `link generate` and a grant's
    redemption hand them out."""
    link = Link(
        metadata=Metadata(name=name),
        spec=LinkSpec(endpoints=list(endpoints), tls_credentials=name, cost=cost),
    )
    return dump_yaml([link, Secret.from_pem(name, files)])


@dataclass(frozen=True)
class SiteResources:
    """All resources of one namespace, sorted by kind."""

    site: Site
    router_access: RouterAccess | None = None
    links: tuple[Link, ...] = ()
    listeners: tuple[Listener, ...] = ()
    connectors: tuple[Connector, ...] = ()
    secrets: tuple[Secret, ...] = ()
    multi_key_listeners: tuple[MultiKeyListener, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    secured_accesses: tuple[SecuredAccess, ...] = ()

    @classmethod
    def from_resources(cls, resources: Iterable[Resource], where: str) -> SiteResources:
        items = list(resources)
        sites = [r for r in items if isinstance(r, Site)]
        if len(sites) != 1:
            raise SkupperError(f"{where}: expected exactly one Site, found {len(sites)}")
        accesses = [r for r in items if isinstance(r, RouterAccess)]
        return cls(
            site=sites[0],
            router_access=accesses[0] if accesses else None,
            links=_sorted(r for r in items if isinstance(r, Link)),
            listeners=_sorted(r for r in items if isinstance(r, Listener)),
            connectors=_sorted(r for r in items if isinstance(r, Connector)),
            secrets=_sorted(r for r in items if isinstance(r, Secret)),
            multi_key_listeners=_sorted(r for r in items if isinstance(r, MultiKeyListener)),
            certificates=_sorted(r for r in items if isinstance(r, Certificate)),
            secured_accesses=_sorted(r for r in items if isinstance(r, SecuredAccess)),
        )


_R = TypeVar(
    "_R",
    Site,
    Link,
    Listener,
    Connector,
    RouterAccess,
    Secret,
    MultiKeyListener,
    Certificate,
    SecuredAccess,
)


def _sorted(items: Iterable[_R]) -> tuple[_R, ...]:
    return tuple(sorted(items, key=lambda r: r.name))


@contextlib.contextmanager
def user_input(what: str) -> Iterator[None]:
    """Turn a ValidationError raised while building models from user input into a
    SkupperError naming `what` ("listener db") and the fields at fault."""
    try:
        yield
    except ValidationError as error:
        raise SkupperError(describe_validation_error(error, f"invalid {what}")) from None
