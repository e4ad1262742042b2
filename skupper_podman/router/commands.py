"""Commands the router core gives its driver: the only way the core acts on the world.

The core never touches a socket or a clock; it appends these to a list that the driver
executes in order, with no awaits in between. Network connections and TCP flows are
named by integer ids that the core hands out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .service_tls import ServiceTls

ListenerKind = Literal["amqp", "tcp"]


LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Listen:
    """Open a listening socket; accepted sockets come back as ``*_accepted(name)``."""

    kind: ListenerKind
    name: str
    host: str
    port: int
    tls: ServiceTls | None = None  # a tcpListener whose clients speak TLS


@dataclass(frozen=True, slots=True)
class StopListening:
    kind: ListenerKind
    name: str


@dataclass(frozen=True, slots=True)
class ConnectAmqp:
    """Dial a peer router (through an HTTP proxy's CONNECT tunnel when ``proxy`` is a
    URL); the result comes back as amqp_connected or amqp_closed."""

    conn_id: int
    host: str
    port: int
    proxy: str = ""


@dataclass(frozen=True, slots=True)
class TransmitAmqp:
    """The connection has output: call ``core.amqp_output(conn_id)`` when writable.
    ``size``: the bytes ready when it was said (negative: proton wrote its last frame)."""

    conn_id: int
    size: int


@dataclass(frozen=True, slots=True)
class CloseAmqp:
    """Write ``final`` (the last protocol bytes, e.g. a close frame), then close the socket."""

    conn_id: int
    final: bytes = b""


@dataclass(frozen=True, slots=True)
class OpenTcp:
    """Dial a backend; the result comes back as tcp_connected or tcp_connect_failed."""

    flow_id: int
    host: str
    port: int
    tls: ServiceTls | None = None  # a backend that speaks TLS


@dataclass(frozen=True, slots=True)
class ProbeTcp:
    """Try a connection to a tcpConnector's backend that is out of rotation; the result
    comes back as backend_probed."""

    connector: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class SendTcp:
    flow_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ShutdownTcp:
    """Half-close: no more data will be written to this socket (a FIN is sent)."""

    flow_id: int


@dataclass(frozen=True, slots=True)
class CloseTcp:
    flow_id: int
    abort: bool = False


@dataclass(frozen=True, slots=True)
class PauseTcp:
    """Stop reading this socket (the far end's window is full)."""

    flow_id: int


@dataclass(frozen=True, slots=True)
class ResumeTcp:
    flow_id: int


@dataclass(frozen=True, slots=True)
class Log:
    level: LogLevel
    module: str
    text: str


Command = (
    Listen
    | StopListening
    | ConnectAmqp
    | TransmitAmqp
    | CloseAmqp
    | OpenTcp
    | ProbeTcp
    | SendTcp
    | ShutdownTcp
    | CloseTcp
    | PauseTcp
    | ResumeTcp
    | Log
)
