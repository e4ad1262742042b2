"""Multi-document Skupper v2 YAML for `apply -f`, `delete -f` and `site generate`.

Every problem names its document the way a person finds it in the file: the position in
the stream (1-based, counting empty documents too), its kind and name, then the field and
what is wrong. All documents are checked before anything is done with any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from skupper_podman import resources as res
from skupper_podman.errors import SkupperError

# The kinds a site is made of; grants and tokens have their own commands.
APPLY_KINDS = ("Site", "RouterAccess", "Link", "Secret", "Listener", "Connector")
SECRET_API_VERSION = "v1"

SiteResource = res.Site | res.RouterAccess | res.Link | res.Secret | res.Listener | res.Connector
_MODELS: dict[str, type[SiteResource]] = {
    "Site": res.Site,
    "RouterAccess": res.RouterAccess,
    "Link": res.Link,
    "Secret": res.Secret,
    "Listener": res.Listener,
    "Connector": res.Connector,
}


@dataclass(frozen=True)
class Document:
    """One validated resource and where it came from."""

    index: int
    source: str
    resource: SiteResource

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def label(self) -> str:
        return f"{self.source}: document {self.index} ({self.kind} {self.name})"


def parse_documents(text: str, source: str) -> list[Document]:
    """Every resource of `text`; one SkupperError listing every bad document."""
    try:
        raw = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        raise SkupperError(f"{source}: not valid YAML: {detail}") from None
    documents: list[Document] = []
    problems: list[str] = []
    for index, item in enumerate(raw, start=1):
        if item is None:
            continue
        try:
            documents.append(Document(index, source, _parse(item, f"{source}: document {index}")))
        except SkupperError as error:
            problems.append(str(error))
    if problems:
        raise SkupperError("; ".join(problems))
    if not documents:
        raise SkupperError(f"{source}: no resources in the file")
    _check_unique(documents)
    return documents


def _parse(item: Any, where: str) -> SiteResource:
    if not isinstance(item, dict):
        raise SkupperError(f"{where}: expected a mapping with apiVersion, kind and metadata")
    kind = item.get("kind")
    if kind is None:
        raise SkupperError(f"{where}: kind: missing (one of {', '.join(APPLY_KINDS)})")
    if kind not in APPLY_KINDS:
        raise SkupperError(
            f"{where}: kind: unknown kind {kind!r} (expected one of {', '.join(APPLY_KINDS)})"
        )
    metadata = item.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    label = f"{where} ({kind} {name})" if isinstance(name, str) else f"{where} ({kind})"
    expected = SECRET_API_VERSION if kind == "Secret" else res.API_VERSION
    version = item.get("apiVersion")
    if version != expected:
        found = "missing" if version is None else f"{version!r} is not supported"
        raise SkupperError(f"{label}: apiVersion: {found}; use {expected}")
    try:
        return _MODELS[kind].model_validate(item)
    except ValidationError as error:
        raise SkupperError(res.describe_validation_error(error, label)) from None


def _check_unique(documents: list[Document]) -> None:
    seen: dict[tuple[str, str], Document] = {}
    for document in documents:
        key = (document.kind, document.name)
        if key in seen:
            raise SkupperError(
                f"{document.label}: the same {document.kind} as document {seen[key].index}"
            )
        seen[key] = document


def site_documents(resources: res.SiteResources) -> list[SiteResource]:
    """A site's resources in the order `apply` wants them: the Site, its RouterAccess,
    each Link followed by its Secret, then listeners and connectors."""
    ordered: list[SiteResource] = [resources.site]
    if resources.router_access is not None:
        ordered.append(resources.router_access)
    secrets = {secret.name: secret for secret in resources.secrets}
    for link in resources.links:
        ordered.append(link)
        if link.spec.tls_credentials in secrets:
            ordered.append(secrets[link.spec.tls_credentials])
    ordered += resources.listeners
    ordered += resources.connectors
    return ordered
