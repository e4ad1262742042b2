"""Skupper v2 resources as pydantic models, and the one place user input is validated.

The models keep Skupper's shape (`apiVersion: skupper.io/v2alpha1`, `kind`,
`metadata.name`, `spec` with Skupper's field names) so a user's Skupper YAML reads the same
here. Python attributes are snake_case; YAML keys are the camelCase aliases. Kinds and
fields that skupper-podman does not support are refused, not ignored.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from skupper_podman import yaml_input
from skupper_podman.errors import SkupperError

API_VERSION = "skupper.io/v2alpha1"
TLS_SECRET_TYPE = "kubernetes.io/tls"
TLS_SECRET_KEYS = ("ca.crt", "tls.crt", "tls.key")

_NAME_MAX = 200


def _check_dns_1123(name: str) -> str:
    """A Kubernetes object name: lower-case DNS-1123 subdomain (here at most 200
    characters: it becomes a file name with its kind in front)."""
    labels = name.split(".")
    if len(name) > _NAME_MAX:
        raise ValueError(f"must be at most {_NAME_MAX} characters")
    if not name or not all(_is_dns_label(x) for x in labels):
        raise ValueError(
            "must be lower-case letters, digits, '-' or '.', starting and ending with a "
            "letter or digit"
        )
    return name


def is_resource_name(name: str) -> bool:
    """Whether ``name`` can name a resource (and so a file of the site)."""
    try:
        _check_dns_1123(name)
    except ValueError:
        return False
    return True


def _is_dns_label(label: str) -> bool:
    if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
        return False
    return all(c.isdigit() or ("a" <= c <= "z") or c == "-" for c in label)


def _check_not_blank(value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise ValueError("must be a non-empty string without spaces")
    return value


ResourceName = Annotated[str, AfterValidator(_check_dns_1123)]
Port = Annotated[int, Field(ge=1, le=65535)]
RoutingKey = Annotated[str, AfterValidator(_check_not_blank)]
Host = Annotated[str, AfterValidator(_check_not_blank)]
MAX_COST = 2**31 - 1  # skupper-router's cost is a signed 32-bit number
Cost = Annotated[int, Field(ge=1, le=MAX_COST)]
Settings = dict[str, str]
# Skupper writes endpoint ports as strings ("55671"); accept both, write strings.
EndpointPort = Annotated[
    Port,
    BeforeValidator(lambda v: int(v) if isinstance(v, str) and v.isdigit() else v),
    PlainSerializer(str, return_type=str),
]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )


class Metadata(_Model):
    # What Kubernetes adds (uid, resourceVersion, creationTimestamp, ...) is not ours.
    model_config = ConfigDict(extra="ignore")

    name: ResourceName
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class _Resource(_Model):
    # Skupper's YAML may carry a status written by its controller; it is not ours to keep.
    model_config = ConfigDict(extra="ignore")

    metadata: Metadata

    @property
    def name(self) -> str:
        return self.metadata.name


class SiteSpec(_Model):
    link_access: str | None = None
    edge: bool = False
    settings: Settings = Field(default_factory=dict)

    @property
    def has_link_access(self) -> bool:
        return self.link_access not in (None, "", "none")


class Site(_Resource):
    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["Site"] = "Site"
    spec: SiteSpec = Field(default_factory=SiteSpec)


class Endpoint(_Model):
    name: str
    host: Host
    port: EndpointPort
    group: str | None = None


class LinkSpec(_Model):
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]
    tls_credentials: ResourceName
    cost: Cost = 1
    settings: Settings = Field(default_factory=dict)

    def endpoint_for_role(self, role: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == role), None)


class Link(_Resource):
    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["Link"] = "Link"
    spec: LinkSpec


class ListenerSpec(_Model):
    routing_key: RoutingKey
    host: Host = "127.0.0.1"
    port: Port
    tls_credentials: ResourceName | None = None
    type: Literal["tcp"] = "tcp"
    settings: Settings = Field(default_factory=dict)


class Listener(_Resource):
    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["Listener"] = "Listener"
    spec: ListenerSpec


class PriorityStrategy(_Model):
    routing_keys_by_priority: Annotated[list[RoutingKey], Field(min_length=1)]


class WeightedStrategy(_Model):
    weights_by_routing_key: Annotated[
        dict[RoutingKey, Annotated[int, Field(ge=0, le=1_000_000)]], Field(min_length=1)
    ]


class MultiKeyStrategy(_Model):
    priority: PriorityStrategy | None = None
    weighted: WeightedStrategy | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MultiKeyStrategy:
        if (self.priority is None) == (self.weighted is None):
            raise ValueError("give exactly one of priority and weighted")
        return self

    def keys_and_values(self) -> list[tuple[str, int]]:
        """(routing key, value): a priority (the first key highest) or a weight."""
        if self.priority is not None:
            keys = self.priority.routing_keys_by_priority
            return [(key, len(keys) - index) for index, key in enumerate(keys)]
        assert self.weighted is not None
        return list(self.weighted.weights_by_routing_key.items())


class MultiKeyListenerSpec(_Model):
    host: Host = "127.0.0.1"
    port: Port
    tls_credentials: ResourceName | None = None
    strategy: MultiKeyStrategy
    settings: Settings = Field(default_factory=dict)


class MultiKeyListener(_Resource):
    """One listener over several routing keys: the preferred reachable one (priority),
    or one in proportion to its weight (weighted)."""

    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["MultiKeyListener"] = "MultiKeyListener"
    spec: MultiKeyListenerSpec


class ConnectorSpec(_Model):
    routing_key: RoutingKey
    host: Host
    port: Port
    tls_credentials: ResourceName | None = None
    # Unset means Skupper's default (no client certificate; the host name is verified).
    use_client_cert: bool | None = None  # present tls.crt of tlsCredentials to the backend
    verify_hostname: bool | None = None  # the backend's certificate must name spec.host
    type: Literal["tcp"] = "tcp"
    settings: Settings = Field(default_factory=dict)

    @property
    def presents_client_cert(self) -> bool:
        return bool(self.use_client_cert)

    @property
    def verifies_hostname(self) -> bool:
        return self.verify_hostname is not False


class Connector(_Resource):
    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["Connector"] = "Connector"
    spec: ConnectorSpec


RouterRole = Literal["inter-router", "edge"]


class RouterAccessRole(_Model):
    name: RouterRole
    port: Port


DEFAULT_ROUTER_ACCESS_ROLES = (("inter-router", 55671), ("edge", 45671))


class RouterAccessSpec(_Model):
    roles: Annotated[list[RouterAccessRole], Field(min_length=1)] = Field(
        default_factory=lambda: [
            RouterAccessRole(name=name, port=port) for name, port in DEFAULT_ROUTER_ACCESS_ROLES
        ]
    )
    tls_credentials: ResourceName
    # True: the site issues the server certificate; False: a Secret named tlsCredentials
    # brings it; unset: the Secret if there is one, otherwise issued.
    generate_tls_credentials: bool | None = None
    bind_host: str | None = None
    subject_alternative_names: list[str] = Field(default_factory=list)
    access_type: str | None = None  # Kubernetes only (route, loadbalancer, ...): not used
    settings: Settings = Field(default_factory=dict)

    def port_for_role(self, role: RouterRole) -> int | None:
        return next((r.port for r in self.roles if r.name == role), None)


class RouterAccess(_Resource):
    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["RouterAccess"] = "RouterAccess"
    spec: RouterAccessSpec

    @model_validator(mode="before")
    @classmethod
    def _default_credentials(cls, data: Any) -> Any:
        """As Skupper: an empty spec is every role on its usual port, and the server
        certificate's name is the RouterAccess's own."""
        if not isinstance(data, dict):
            return data
        spec = data.get("spec")
        metadata = data.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if spec is None:
            spec = {}
        if (
            isinstance(spec, dict)
            and "tlsCredentials" not in spec
            and "tls_credentials" not in spec
        ):
            spec = {**spec, "tlsCredentials": name}
        return {**data, "spec": spec}


def _check_base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    return value


class Secret(_Resource):
    """A Kubernetes v1 TLS Secret: base64 PEM under ca.crt, tls.crt and tls.key."""

    api_version: Literal["v1"] = "v1"
    kind: Literal["Secret"] = "Secret"
    type: Literal["kubernetes.io/tls"] = "kubernetes.io/tls"
    data: dict[str, Annotated[str, AfterValidator(_check_base64)]]

    @classmethod
    def from_pem(cls, name: str, files: dict[str, bytes]) -> Secret:
        encoded = {key: base64.b64encode(value).decode("ascii") for key, value in files.items()}
        return cls(metadata=Metadata(name=name), data=encoded)

    def pem(self, key: str) -> bytes:
        if key not in self.data:
            raise SkupperError(f"Secret {self.name} has no {key!r} entry")
        return base64.b64decode(self.data[key])


class AccessGrantSpec(_Model):
    redemptions_allowed: Annotated[int, Field(ge=1)] = 1
    expiration_window: str = "15m"
    code: str | None = None
    issuer: str | None = None
    settings: Settings = Field(default_factory=dict)


class AccessGrant(_Resource):
    """Permission to redeem tokens for links; its status lives in the site's grant file."""

    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["AccessGrant"] = "AccessGrant"
    spec: AccessGrantSpec = Field(default_factory=AccessGrantSpec)


def _check_grant_url(url: str) -> str:
    """https://HOST:PORT/PATH with a host name of at most 253 characters and a valid port."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"is not a valid URL: {error}") from None
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be https://HOST:PORT/...")
    if len(parts.hostname) > 253:
        raise ValueError("has a host name longer than 253 characters")
    if port is None or not 1 <= port <= 65535:
        raise ValueError("needs a port from 1 to 65535")
    return url


class AccessTokenSpec(_Model):
    url: Annotated[str, AfterValidator(_check_not_blank), AfterValidator(_check_grant_url)]
    code: Annotated[str, AfterValidator(_check_not_blank)]
    ca: Annotated[str, Field(min_length=1)]  # PEM
    link_cost: Cost | None = None
    settings: Settings = Field(default_factory=dict)


class AccessToken(_Resource):
    """What `token issue` prints: where to redeem (url), the code, and the CA to trust."""

    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["AccessToken"] = "AccessToken"
    spec: AccessTokenSpec


class CertificateSpec(_Model):
    ca: str = ""  # the credential that signs it: a CA of the site, or another Certificate
    subject: str = ""
    hosts: list[str] = Field(default_factory=list)
    client: bool = False
    server: bool = False
    signing: bool = False  # a CA of its own (self-signed)
    settings: Settings = Field(default_factory=dict)


class Certificate(_Resource):
    """A certificate the site issues into a credential of the same name (certs/<name>/),
    for a listener's or connector's tlsCredentials."""

    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["Certificate"] = "Certificate"
    spec: CertificateSpec


class SecuredAccessPort(_Model):
    name: str
    port: Port
    target_port: Port | None = None
    protocol: str = "TCP"


class SecuredAccessSpec(_Model):
    certificate: ResourceName | None = None  # default: the SecuredAccess's name
    issuer: str = ""  # default: the site CA
    # Kubernetes only (which pods, which service ports, how exposed): kept, not used
    ports: list[SecuredAccessPort] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)
    access_type: str | None = None
    settings: Settings = Field(default_factory=dict)


class SecuredAccess(_Resource):
    """Skupper's TLS access to pods; off Kubernetes its effect is its server certificate
    (``certificate``, by ``issuer``) for this host's names."""

    api_version: Literal["skupper.io/v2alpha1"] = "skupper.io/v2alpha1"
    kind: Literal["SecuredAccess"] = "SecuredAccess"
    spec: SecuredAccessSpec = Field(default_factory=SecuredAccessSpec)

    @property
    def certificate_name(self) -> str:
        return self.spec.certificate or self.name


Resource: TypeAlias = (
    Site
    | Link
    | Listener
    | Connector
    | RouterAccess
    | Secret
    | AccessGrant
    | AccessToken
    | MultiKeyListener
    | Certificate
    | SecuredAccess
)
_RESOURCE_ADAPTER: TypeAdapter[Resource] = TypeAdapter(
    Annotated[Resource, Field(discriminator="kind")]
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
        return _RESOURCE_ADAPTER.validate_python(document)
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
