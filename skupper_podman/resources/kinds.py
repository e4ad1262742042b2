"""Each kind of resource (Site, Link, Listener, ...) as a pydantic model, in Skupper's shape."""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)
from pydantic.alias_generators import to_camel

from skupper_podman.errors import SkupperError

from .fields import (
    Cost,
    EndpointPort,
    Host,
    Port,
    ResourceName,
    RoutingKey,
    Settings,
    check_not_blank,
)


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


# What a listener reads its clients' flows for (HTTP requests); unset: auto.
Observer: TypeAlias = Literal["auto", "none", "http1", "http2"]


class ListenerSpec(_Model):
    routing_key: RoutingKey
    host: Host = "127.0.0.1"
    port: Port
    tls_credentials: ResourceName | None = None
    observer: Observer | None = None
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
    observer: Observer | None = None
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
    url: Annotated[str, AfterValidator(check_not_blank), AfterValidator(_check_grant_url)]
    code: Annotated[str, AfterValidator(check_not_blank)]
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
RESOURCE_ADAPTER: TypeAdapter[Resource] = TypeAdapter(
    Annotated[Resource, Field(discriminator="kind")]
)
