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
from skupper_podman import yaml_input
from skupper_podman.errors import SkupperError

# The kinds a site is made of, and the grants and tokens that link sites.
APPLY_KINDS = (
    "Site",
    "RouterAccess",
    "Link",
    "Secret",
    "Listener",
    "Connector",
    "AccessGrant",
    "AccessToken",
    "MultiKeyListener",
    "Certificate",
    "SecuredAccess",
)
SECRET_API_VERSION = "v1"

_MODELS: dict[str, type[res.Resource]] = {
    "Site": res.Site,
    "RouterAccess": res.RouterAccess,
    "Link": res.Link,
    "Secret": res.Secret,
    "Listener": res.Listener,
    "Connector": res.Connector,
    "AccessGrant": res.AccessGrant,
    "AccessToken": res.AccessToken,
    "MultiKeyListener": res.MultiKeyListener,
    "Certificate": res.Certificate,
    "SecuredAccess": res.SecuredAccess,
}


# Fields of Skupper's resources that only mean something on Kubernetes (pods, service
# accounts, ingress types): a warning each, and ignored.
KUBERNETES_ONLY: dict[str, tuple[str, ...]] = {
    "Site": ("serviceAccount", "defaultIssuer", "ha"),
    "RouterAccess": ("accessType", "issuer"),
    "Listener": ("exposePodsByName",),
    "Connector": ("selector", "includeNotReadyPods", "exposePodsByName"),
    "AccessGrant": ("issuer",),
    "MultiKeyListener": ("exposePodsByName",),
}
# Kept as written (Skupper requires them) but without effect off Kubernetes: a warning.
NOT_USED_HERE: dict[str, tuple[str, ...]] = {"SecuredAccess": ("selector", "ports", "accessType")}
# Read where the client connects, as skupper-router does: a connector's is ignored.
LISTENER_SIDE_ONLY: dict[str, tuple[str, ...]] = {"Connector": ("observer",)}


@dataclass(frozen=True)
class Document:
    """One validated resource and where it came from."""

    index: int
    source: str
    resource: res.Resource
    warnings: tuple[str, ...] = ()

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
    documents: list[Document] = []
    problems: list[str] = []
    for index, (item, node) in enumerate(yaml_input.load_documents(text, source), start=1):
        if item is None:
            continue
        where = f"{source}: document {index}"
        try:
            warnings = _drop_kubernetes_only(item, where)
            resource = _parse(item, where, node)
            documents.append(Document(index, source, resource, tuple(warnings)))
        except SkupperError as error:
            problems.append(str(error))
    if problems:
        raise SkupperError("; ".join(problems))
    if not documents:
        raise SkupperError(f"{source}: no resources in the file")
    _check_unique(documents)
    return documents


def _drop_kubernetes_only(item: Any, where: str) -> list[str]:
    if not isinstance(item, dict) or not isinstance(item.get("spec"), dict):
        return []
    kind, spec = item.get("kind"), item["spec"]
    warnings = []
    for field in KUBERNETES_ONLY.get(str(kind), ()):
        if field in spec:
            del spec[field]
            warnings.append(f"{where} ({kind}): spec.{field}: Kubernetes only, ignored")
    for field in LISTENER_SIDE_ONLY.get(str(kind), ()):
        if field in spec:
            del spec[field]
            warnings.append(f"{where} ({kind}): spec.{field}: set on the listener, ignored here")
    for field in NOT_USED_HERE.get(str(kind), ()):
        if field in spec:
            warnings.append(f"{where} ({kind}): spec.{field}: Kubernetes only, kept but unused")
    return warnings


def _line(node: yaml.Node | None, location: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest part of ``location`` found in the YAML ``node``."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _describe(error: ValidationError, label: str, node: yaml.Node | None) -> str:
    """Each problem with its line in the file and its field, in plain words."""
    problems = []
    for item in error.errors():
        location = tuple(item["loc"])
        field = ".".join(str(part) for part in location) or "document"
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        else:
            message = item["msg"].removeprefix("Value error, ").rstrip(".")
        line = _line(node, location)
        problems.append(f"line {line}: {field}: {message}" if line else f"{field}: {message}")
    return f"{label}: " + "; ".join(problems)


def _parse(item: Any, where: str, node: yaml.Node | None = None) -> res.Resource:
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
        raise SkupperError(_describe(error, label, node)) from None


def _check_unique(documents: list[Document]) -> None:
    seen: dict[tuple[str, str], Document] = {}
    for document in documents:
        key = (document.kind, document.name)
        if key in seen:
            raise SkupperError(
                f"{document.label}: the same {document.kind} as document {seen[key].index}"
            )
        seen[key] = document


def site_documents(resources: res.SiteResources) -> list[res.Resource]:
    """A site's resources in the order `apply` wants them: the Site, its RouterAccess,
    each Link followed by its Secret, then listeners and connectors."""
    ordered: list[res.Resource] = [resources.site]
    if resources.router_access is not None:
        ordered.append(resources.router_access)
    secrets = {secret.name: secret for secret in resources.secrets}
    emitted = set()
    for link in resources.links:
        ordered.append(link)
        if link.spec.tls_credentials in secrets:
            ordered.append(secrets[link.spec.tls_credentials])
            emitted.add(link.spec.tls_credentials)
    ordered += [s for s in resources.secrets if s.name not in emitted]
    signing_first = sorted(resources.certificates, key=lambda c: not c.spec.signing)
    ordered += signing_first
    ordered += resources.secured_accesses
    ordered += resources.listeners
    ordered += resources.multi_key_listeners
    ordered += resources.connectors
    return ordered
