"""One AMQP connection of the router and the links skupper-router expects on it.

On an inter-router connection the side that dialled attaches, in this order, a control
receiver and sender (terminus capability ``qd.router``, one session) and then for each
priority 0..9 a data receiver and sender (``qd.router-data``, a session each). Streamed
deliveries each get a sender link of their own (``qd.router-data``, on a streaming
session), taken from a pool of idle ones, so that one flow's backpressure never blocks
another. Capabilities are sent as a single symbol: skupper-router reads only the first.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from proton import Array, Connection, Data, Link, Session, Terminus, int32, symbol

from .engine import AmqpEngine
from .send_budget import SendBudget

CONTROL_CAPABILITY = "qd.router"
DATA_CAPABILITY = "qd.router-data"
EDGE_DOWNLINK_CAPABILITY = "qd.router-edge-downlink"
EDGE_ADDRESS_TRACKING = "_$qd.edge_addr_tracking"
CONNECTION_CAPABILITIES = ("ANONYMOUS-RELAY", "qd.streaming-links")
INTER_ROUTER_ROLE = "qd.inter-router-role"  # Open property of skupper-router's data connections
INTER_ROUTER_DATA_ROLE = 4
ACCESS_ID_PROPERTY = "qd.access-id"
OURS_PROPERTY = "skupper-podman.version"  # Open property: the peer is a router of ours
PRIORITIES = 10
DEFAULT_PRIORITY = 4
INCOMING_CAPACITY = 64 * 1024 * 1024
DATA_LINK_CREDIT = 250


@dataclass(frozen=True, slots=True)
class ConnectionOrigin:
    """Which configured listener or connector made this connection."""

    kind: Literal["listener", "connector"]
    name: str
    role: Literal["normal", "inter-router", "edge"]
    cost: int
    host: str


@dataclass
class RouterConnection:
    conn_id: int
    engine: AmqpEngine
    origin: ConnectionOrigin
    peer_host: str = ""
    opened: bool = False
    closed: bool = False
    peer_id: str = ""  # the peer's container id (a router id on inter-router links)
    peer_cost: int = 1
    peer_is_ours: bool = False  # not a skupper-router: takes stream bytes at any moment
    control_sender: Link | None = None
    control_receiver: Link | None = None
    data_senders: list[Link] = field(default_factory=list)
    idle_streaming_links: list[Link] = field(default_factory=list)
    streaming_session: Session | None = None
    transmit_pending: bool = False
    received_any: bool = False
    tick_at: float = 0.0
    refused: bool = False  # closed with an error: nothing more it sends is acted on
    ticked_open: bool = False  # proton ticked since the peer's Open (its idle timeout)
    created_at: float = 0.0
    last_delivery_at: float | None = None
    dynamic_addresses: set[str] = field(default_factory=set)
    active_streams: set[Any] = field(default_factory=set)
    held_streams: dict[Any, float] = field(default_factory=dict)  # stream -> holding since
    send_budget: SendBudget | None = None  # toward a skupper-router, once it has streams
    # edge uplinks, on the edge's side: per-address links that tell the interior what this
    # edge consumes (receivers) and produces to (senders), and the tracking receiver.
    consumer_links: dict[str, Link] = field(default_factory=dict)
    producer_links: dict[str, Link] = field(default_factory=dict)
    tracking_link: Link | None = None
    anonymous_sender: Link | None = None
    link_wrappers: dict[object, Link] = field(default_factory=dict)  # ProtonEvent.link_of
    # edge connections, on the interior's side: what the edge consumes and produces to,
    # and the reachability last reported to it per produced address.
    edge_consumes: set[str] = field(default_factory=set)
    edge_produces: dict[str, bool | None] = field(default_factory=dict)
    # names of links and tags of deliveries: from counters of the connection's own, so
    # that traces and logs read the same on every run
    _link_numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _tags: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def tick_until_open(self, now: float) -> None:
        """Proton's first deadline, then one more once the peer's Open (its idle timeout)
        is in: the next one is when to send a heartbeat, usually sooner than the first."""
        if self.tick_at and self.ticked_open:
            return
        peer_open = bool(self.engine.connection.state & Connection.REMOTE_ACTIVE)
        if not self.tick_at or peer_open:
            self.ticked_open = peer_open
            self.tick_at = self.engine.tick(now) or 0.0

    def next_tag(self) -> str:
        """A delivery tag (a link's tags only need to differ among its own)."""
        return format(next(self._tags), "x")

    def link_name(self) -> str:
        return f"qdlink.{self.conn_id}.{next(self._link_numbers)}"

    @property
    def role(self) -> str:
        """The role as skupper-router reports it: a skupper-router peer's extra data
        connections (Open property qd.inter-router-role) are "inter-router-data"."""
        properties = self.engine.connection.remote_properties if self.opened else None
        if properties and properties.get(symbol(INTER_ROUTER_ROLE)) == INTER_ROUTER_DATA_ROLE:
            return "inter-router-data"
        return self.origin.role

    @property
    def is_router_link(self) -> bool:
        return self.origin.role in ("inter-router", "edge")

    @property
    def dialled(self) -> bool:
        return self.origin.kind == "connector"

    @property
    def cost(self) -> int:
        return max(self.origin.cost, self.peer_cost)

    @property
    def control_ready(self) -> bool:
        return bool(
            self.control_sender is not None
            and self.control_receiver is not None
            and self.control_sender.state & Link.REMOTE_ACTIVE
            and self.control_receiver.state & Link.REMOTE_ACTIVE
        )

    def open(self, container_id: str, version: str, access_id: str = "") -> None:
        """Open our end; ``access_id``: the flow record of the link listener that took
        the connection (the dialling router's LINK record names it as its peer)."""
        connection = self.engine.connection
        connection.container = container_id
        connection.offered_capabilities = _symbols(CONNECTION_CAPABILITIES)
        connection.desired_capabilities = _symbols(CONNECTION_CAPABILITIES)
        properties: Any = {
            symbol("product"): "skupper-router",
            symbol("version"): version,
            symbol(OURS_PROPERTY): version,
        }
        if self.is_router_link:
            # AMQP int, as skupper-router reads them: it ignores a long (Python's default)
            properties[symbol("qd.annotations-version")] = int32(2)
            if self.origin.cost > 1:
                properties[symbol("qd.inter-router-cost")] = int32(self.origin.cost)
            if access_id:
                properties[symbol(ACCESS_ID_PROPERTY)] = access_id
        connection.properties = properties
        connection.open()

    def attach_router_links(self) -> None:
        """The dialling side of an inter-router connection attaches control and data links."""
        control_session = self._session()
        self.control_receiver = _attach(
            control_session.receiver, CONTROL_CAPABILITY, self.link_name()
        )
        self.control_sender = _attach(control_session.sender, CONTROL_CAPABILITY, self.link_name())
        self.control_receiver.flow(DATA_LINK_CREDIT)
        for _priority in range(PRIORITIES):
            session = self._session()
            receiver = _attach(session.receiver, DATA_CAPABILITY, self.link_name())
            receiver.flow(DATA_LINK_CREDIT)
            self.data_senders.append(_attach(session.sender, DATA_CAPABILITY, self.link_name()))

    def attach_edge_uplink(self, edge_id: str) -> None:
        """The edge side of an uplink: the downlink and the address-tracking receiver."""
        session = self._session()
        downlink = session.receiver(self.link_name())
        downlink.source.address = edge_id
        set_capability(downlink.source, EDGE_DOWNLINK_CAPABILITY)
        set_capability(downlink.target, EDGE_DOWNLINK_CAPABILITY)
        downlink.open()
        downlink.flow(DATA_LINK_CREDIT)
        tracking = session.receiver(self.link_name())
        tracking.source.address = EDGE_ADDRESS_TRACKING
        tracking.open()
        tracking.flow(DATA_LINK_CREDIT)
        self.tracking_link = tracking

    def sync_edge_addresses(self, consumes: set[str], produces: set[str]) -> None:
        """Attach a receiver per consumed address and a sender per produced-to address."""
        session = self._session() if self.streaming_session is None else self.streaming_session
        self.streaming_session = session
        for wanted, links, make in (
            (consumes, self.consumer_links, session.receiver),
            (produces, self.producer_links, session.sender),
        ):
            for address in set(links) - wanted:
                links.pop(address).close()
            for address in wanted - set(links):
                link = make(self.link_name())
                if link.is_receiver:
                    link.source.address = address
                else:
                    link.target.address = address
                link.open()
                if link.is_receiver:
                    link.flow(DATA_LINK_CREDIT)
                links[address] = link

    def streaming_link(self) -> Link:
        """An idle sender for one streamed delivery (reused once its delivery settles)."""
        while self.idle_streaming_links:
            link = self.idle_streaming_links.pop()
            if link.state & Link.LOCAL_ACTIVE and not link.state & Link.REMOTE_CLOSED:
                return link
        if self.streaming_session is None:
            self.streaming_session = self._session()
        capability = DATA_CAPABILITY if self.origin.role == "inter-router" else None
        return _attach(self.streaming_session.sender, capability, self.link_name())

    def message_link(self) -> Link:
        """The shared sender for whole (non-streamed) messages at the default priority.

        Edge connections have no priority data links: there it is an anonymous sender.
        """
        if len(self.data_senders) > DEFAULT_PRIORITY:
            return self.data_senders[DEFAULT_PRIORITY]
        if self.data_senders:
            return self.data_senders[0]
        if self.anonymous_sender is None:
            if self.streaming_session is None:
                self.streaming_session = self._session()
            self.anonymous_sender = _attach(self.streaming_session.sender, None, self.link_name())
        return self.anonymous_sender

    def _session(self) -> Session:
        session = self.engine.connection.session()
        session.incoming_capacity = INCOMING_CAPACITY
        session.open()
        return session


def _attach(factory: object, capability: str | None, name: str) -> Link:
    link: Link = factory(name)  # type: ignore[operator]
    for terminus in (link.source, link.target):
        if capability:
            set_capability(terminus, capability)
    link.open()
    return link


def set_capability(terminus: Terminus, capability: str) -> None:
    capabilities: Data = terminus.capabilities
    capabilities.clear()
    capabilities.put_symbol(symbol(capability))


def capability_of(terminus: Terminus) -> str | None:
    """The first capability symbol of a terminus (as skupper-router reads it)."""
    data: Data = terminus.capabilities
    data.rewind()
    if not data.next():
        return None
    value = data.get_object()
    if isinstance(value, list | tuple):  # an array: take its first symbol
        value = value[0] if value else None
    return str(value) if value is not None else None


def _symbols(names: tuple[str, ...]) -> Array:
    return Array(Data.SYMBOL, *[symbol(n) for n in names])  # type: ignore[arg-type]
