"""The router's configuration as typed entities: the one contract between the site, which
writes them (``routerconfig.py``), and the router, which reads them; the file form is
``config_file.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["normal", "inter-router", "edge"]
Distribution = Literal["balanced", "closest", "multicast"]


class ConfigError(ValueError):
    """The configuration file is unreadable or describes something invalid."""


@dataclass(frozen=True)
class RouterSettings:
    id: str
    mode: Literal["interior", "edge"] = "interior"
    helloIntervalSeconds: float = 1.0
    helloMaxAgeSeconds: float = 3.0
    raIntervalSeconds: float = 30.0
    raIntervalFluxSeconds: float = 4.0
    remoteLsMaxAgeSeconds: float = 60.0
    workerThreads: int = 1
    debugDumpFile: str = ""


@dataclass(frozen=True)
class SslProfile:
    name: str
    caCertFile: str = ""
    certFile: str = ""
    privateKeyFile: str = ""
    password: str = ""


@dataclass(frozen=True)
class AmqpListener:
    name: str
    port: int
    host: str = ""
    role: Role = "normal"
    cost: int = 1
    sslProfile: str = ""
    saslMechanisms: str = ""
    authenticatePeer: bool = False
    requireSsl: bool = True
    idleTimeoutSeconds: int = 16
    maxFrameSize: int = 65536


@dataclass(frozen=True)
class AmqpConnector:
    name: str
    host: str
    port: int
    role: Role = "inter-router"
    cost: int = 1
    sslProfile: str = ""
    saslMechanisms: str = ""
    verifyHostname: bool = True
    idleTimeoutSeconds: int = 16
    maxFrameSize: int = 65536
    # ours, not skupper-router's: dial through this HTTP proxy (http://[user:pw@]host:port)
    proxy: str = ""


@dataclass(frozen=True)
class TcpListener:
    """``sslProfile``: clients speak TLS to it, with that certificate; ``authenticatePeer``:
    a client certificate verified against the profile's CA is required (without it, one is
    asked for and verified when given)."""

    name: str
    port: int
    address: str
    host: str = ""
    siteId: str = ""
    observer: str = ""
    sslProfile: str = ""
    authenticatePeer: bool = False
    # "priority" or "weighted": the listener's routing keys are its listenerAddress
    # entities (a MultiKeyListener), not ``address``
    multiAddressStrategy: str = "none"


@dataclass(frozen=True)
class ListenerAddress:
    """One routing key of a multi-key tcpListener: ``value`` is its priority (higher first)
    or its weight, by the listener's multiAddressStrategy."""

    name: str
    listener: str
    address: str
    value: int = 1


@dataclass(frozen=True)
class TcpConnector:
    """``sslProfile``: the backend speaks TLS, verified against the profile's CA (the
    system's trust when the profile has none); its certificate, if any, is presented."""

    name: str
    host: str
    port: int
    address: str
    siteId: str = ""
    observer: str = ""
    sslProfile: str = ""
    verifyHostname: bool = True


@dataclass(frozen=True)
class AddressSettings:
    prefix: str
    distribution: Distribution = "balanced"


@dataclass(frozen=True)
class LogSettings:
    module: str = "DEFAULT"
    enable: str = "info+"
    outputFile: str = ""
    includeTimestamp: bool = True
    includeSource: bool = False


@dataclass(frozen=True)
class SiteInfo:
    name: str = ""
    namespace: str = ""
    platform: str = ""
    version: str = ""
    location: str = ""
    provider: str = ""


@dataclass(frozen=True)
class MetricsSettings:
    """Prometheus text on a loopback port, or on a unix socket (``path``) instead."""

    port: int = 0
    host: str = "127.0.0.1"
    path: str = ""


@dataclass(frozen=True)
class GrantServerSettings:
    """The HTTPS server that redeems access tokens (AccessGrants) for link credentials."""

    port: int
    host: str = ""
    sslProfile: str = ""  # the server certificate the tokens' CA verifies
    grantsDir: str = ""  # one file per AccessGrant, kept by the site
    caCertFile: str = ""  # the CA that signs the client certificates handed out
    caKeyFile: str = ""
    trustFile: str = ""  # what linking sites must trust, when not caCertFile alone


@dataclass(frozen=True)
class Revocation:
    """Client certificates refused on every listener, by SHA-256 fingerprint (hex)."""

    name: str
    fingerprints: str = ""  # comma-separated
    file: str = ""  # or one fingerprint a line

    def fingerprint_set(self) -> frozenset[str]:
        items = [f for f in self.fingerprints.split(",") if f.strip()]
        if self.file:
            try:
                with open(self.file) as stream:
                    items += stream.read().split()
            except OSError:
                pass
        return frozenset(f.strip().lower().replace(":", "") for f in items)


@dataclass(frozen=True)
class RouterConfig:
    router: RouterSettings
    ssl_profiles: dict[str, SslProfile] = field(default_factory=dict)
    listeners: dict[str, AmqpListener] = field(default_factory=dict)
    connectors: dict[str, AmqpConnector] = field(default_factory=dict)
    tcp_listeners: dict[str, TcpListener] = field(default_factory=dict)
    tcp_connectors: dict[str, TcpConnector] = field(default_factory=dict)
    listener_addresses: dict[str, tuple[ListenerAddress, ...]] = field(default_factory=dict)
    addresses: tuple[AddressSettings, ...] = ()
    logs: tuple[LogSettings, ...] = ()
    site: SiteInfo = SiteInfo()
    metrics: MetricsSettings | None = None
    grant_server: GrantServerSettings | None = None
    revoked: frozenset[str] = frozenset()

    def distribution(self, address: str) -> Distribution:
        """The distribution of ``address``: the longest matching configured prefix wins."""
        best: AddressSettings | None = None
        for setting in self.addresses:
            if address.startswith(setting.prefix) and (
                best is None or len(setting.prefix) > len(best.prefix)
            ):
                best = setting
        return best.distribution if best else "balanced"


ConfigEntity = (
    RouterSettings
    | SslProfile
    | AmqpListener
    | AmqpConnector
    | TcpListener
    | TcpConnector
    | ListenerAddress
    | AddressSettings
    | LogSettings
    | SiteInfo
    | MetricsSettings
    | GrantServerSettings
    | Revocation
)
