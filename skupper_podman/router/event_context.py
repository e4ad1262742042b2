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
from .observation import Observation
from .outbound_streams import OutboundStreams
from .tcp_adaptor import TcpAdaptor
from .view import DeliveryCounts


class LinkEvents(Protocol):
    """What the core does when a connection's role in the network changes."""

    def router_link_ready(self, conn: RouterConnection, now: float) -> None: ...

    def router_link_lost(self, conn: RouterConnection, now: float) -> None: ...

    def edge_addresses_changed(self, now: float) -> None:
        """An attached edge or a client's subscription changed what is consumed here."""

    def connection_down(self, conn: RouterConnection, error: str, now: float) -> None: ...


@dataclass(frozen=True)
class EventContext:
    """What proton's events are acted on with."""

    fabric: Fabric
    connectors: AmqpConnectors
    tcp: TcpAdaptor
    control: ControlPlane
    deliveries: DeliveryCounts
    streams: OutboundStreams
    observation: Observation  # flow records, and the subscriptions they travel on
    links: LinkEvents
    log: Callable[[cmd.LogLevel, str, str], None]
    mark_dirty: Callable[[int], None]
