"""What proton's events are acted on with (``amqp_events.py``, ``delivery_events.py``):
the router's parts, and the few things only the core does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from . import commands as cmd
from .connection import RouterConnection
from .connectors import AmqpConnectors
from .control import ControlPlane
from .fabric import Fabric
from .message import RouterAnnotations
from .streams import OutboundStream, StreamOwner
from .tcp_adaptor import TcpAdaptor
from .view import DeliveryCounts


class LinkEvents(Protocol):
    """What the core does when a connection's role in the network changes, and how a
    passed-on delivery gets its stream."""

    def router_link_ready(self, conn: RouterConnection, now: float) -> None: ...

    def router_link_lost(self, conn: RouterConnection, now: float) -> None: ...

    def edge_addresses_changed(self, now: float) -> None: ...

    def connection_down(self, conn: RouterConnection, error: str, now: float) -> None: ...

    def stream_on(
        self,
        conn: RouterConnection,
        header: bytes,
        owner: StreamOwner,
        received: RouterAnnotations,
    ) -> OutboundStream: ...


@dataclass(frozen=True)
class EventContext:
    """What proton's events are acted on with."""

    fabric: Fabric
    connectors: AmqpConnectors
    tcp: TcpAdaptor
    control: ControlPlane
    deliveries: DeliveryCounts
    links: LinkEvents
    log: Callable[[cmd.LogLevel, str, str], None]
    mark_dirty: Callable[[int], None]
