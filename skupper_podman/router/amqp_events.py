"""Proton events of one connection, turned into the router's decisions.

Links are classified when the peer attaches them (control, data, edge address links,
management endpoints). Each incoming delivery is buffered until its header parses, then
routed once: a whole message (routing protocol, management), a reply stream for one of
our TCP flows, a new flow for a local tcpConnector, or a stream to forward to the next
hop. After that its bytes go straight to the stream's owner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from cproton import lib as _lib
from proton import Delivery, Link

from . import VERSION, control
from .connection import (
    CONTROL_CAPABILITY,
    DATA_LINK_CREDIT,
    EDGE_ADDRESS_TRACKING,
    EDGE_DOWNLINK_CAPABILITY,
    INCOMING_CAPACITY,
    RouterConnection,
    capability_of,
)
from .engine import ProtonEvent as Event
from .engine import receive
from .message import (
    RA_FLAG_STREAMING,
    MalformedMessage,
    MessageHeader,
    RouterAnnotations,
    header_of_complete,
    parse_header,
)
from .streams import ACCEPTED, MODIFIED, REJECTED, RELEASED, InboundStream, OutboundStream
from .tcp import Forwarder, TcpFlow

if TYPE_CHECKING:
    from .core import RouterCore


def process(core: RouterCore, conn: RouterConnection, now: float) -> None:
    for event in conn.engine.events(_WANTED):
        if conn.refused:
            continue  # what a refused peer attached or sent is not acted on
        _HANDLERS[event.type](core, conn, event, now)


# --- connection, session and link lifecycle ----------------------------------------------------


def _on_remote_open(core: RouterCore, conn: RouterConnection, event: Event, now: float) -> None:
    connection = event.connection
    conn.peer_id = connection.remote_container or ""
    if not conn.dialled and conn.engine.peer_fingerprint in core.config.revoked:
        core.refuse_connection(conn, "amqp:unauthorized-access", "certificate revoked")
        return
    if not conn.dialled and conn.origin.role in ("inter-router", "edge"):
        clash = core.router_id_clash(conn)
        if clash:
            core.refuse_connection(conn, "amqp:not-allowed", clash)
            return
    properties = connection.remote_properties or {}
    conn.peer_cost = int(properties.get("qd.inter-router-cost", 1) or 1)
    if not conn.dialled:
        conn.open(core.router_id, VERSION)
    conn.opened = True
    if conn.origin.role != "normal" and not connection.remote_condition:
        core.log(
            "info",
            "conn",
            f"connection {conn.conn_id} to {conn.peer_id} open (role {conn.origin.role})",
        )
    if conn.dialled:
        core.connector_opened(conn)
        if conn.origin.role == "inter-router":
            conn.attach_router_links()
    if conn.origin.role == "edge":
        core.router_link_ready(conn, now)


def _on_remote_close(core: RouterCore, conn: RouterConnection, event: Event, now: float) -> None:
    connection = event.connection
    if connection.state & connection.LOCAL_ACTIVE:
        connection.close()


def _on_session_open(core: RouterCore, conn: RouterConnection, event: Event, now: float) -> None:
    session = event.session
    if session.state & session.LOCAL_UNINIT:
        session.incoming_capacity = INCOMING_CAPACITY
        session.open()


def _on_link_open(core: RouterCore, conn: RouterConnection, event: Event, now: float) -> None:
    link = event.link
    if link.state & Link.LOCAL_UNINIT:
        _accept_link(core, conn, link, now)
    if conn.origin.role == "inter-router" and conn.control_ready and conn.peer_id:
        core.router_link_ready(conn, now)


def _accept_link(core: RouterCore, conn: RouterConnection, link: Link, now: float) -> None:
    """The peer attached a link: decide what it is for, then attach our end."""
    remote = link.remote_target if link.is_receiver else link.remote_source
    capability = capability_of(remote)
    link.source.copy(link.remote_source)
    link.target.copy(link.remote_target)
    edge_changed = False
    if capability == CONTROL_CAPABILITY and conn.origin.role == "inter-router":
        if link.is_sender:
            conn.control_sender = link
        else:
            conn.control_receiver = link
    elif link.is_sender and link.remote_source.dynamic:
        address = core.reply_address()
        link.source.address = address
        core.endpoint_links[address] = (conn.conn_id, link)
        conn.dynamic_addresses.add(address)
    elif link.is_sender and conn.origin.role == "edge" and not core.edge_mode:
        source = link.remote_source.address or ""
        if source == EDGE_ADDRESS_TRACKING:
            conn.tracking_link = link
        elif source and capability != EDGE_DOWNLINK_CAPABILITY:
            conn.edge_consumes.add(source)
            edge_changed = True
    elif link.is_sender and conn.origin.role == "inter-router":
        conn.data_senders.append(link)
    elif link.is_receiver and conn.origin.role == "edge" and not core.edge_mode:
        target = link.remote_target.address or ""
        if target:
            conn.edge_produces.setdefault(target, None)
            core.reset_topology()
    link.open()
    if link.is_receiver:
        link.flow(DATA_LINK_CREDIT)
    if edge_changed:
        core.edge_addresses_changed(now)


def _on_link_close(core: RouterCore, conn: RouterConnection, event: Event, now: float) -> None:
    link = event.link
    current = link.current
    stream = getattr(current, "stream", None) if current is not None else None
    if stream is not None:
        fail_stream(stream)
    if link.state & Link.LOCAL_ACTIVE:
        link.close()
    if link == conn.control_sender or link == conn.control_receiver:
        core.router_link_lost(conn, now)
    if link.is_sender and conn.edge_consumes:
        source = link.source.address or ""
        if source in conn.edge_consumes:
            conn.edge_consumes.discard(source)
            core.edge_addresses_changed(now)


def _on_transport_closed(
    core: RouterCore, conn: RouterConnection, event: Event, now: float
) -> None:
    core.connection_down(conn, conn.engine.error or "connection closed", now)


# --- deliveries ----------------------------------------------------------------------------------


def _on_delivery(core: RouterCore, conn: RouterConnection, event: Event, now: float) -> None:
    delivery = event.delivery
    stream = getattr(delivery, "stream", None)
    if isinstance(stream, OutboundStream):
        stream.on_update()  # the peer updated a delivery we send
        return
    link = event.link  # not delivery.link: proton's import on every call cost a tenth of it
    if link.is_sender:
        return
    if delivery.aborted:
        if isinstance(stream, InboundStream):
            end_inbound(conn, link, stream, aborted=True)
        else:
            delivery.settle()
            _replenish(link)
        return
    data = receive(link, delivery.pending)
    complete = not delivery.partial
    if isinstance(stream, InboundStream):
        owner = stream.owner
        while data:
            owner.stream_data(data)
            if stream.settled:
                return  # its owner gave the outcome: the link has moved on
            data = receive(link, delivery.pending)
        if complete:
            end_inbound(conn, link, stream, aborted=False)
        return
    buffered: bytes = getattr(delivery, "buffer", b"") + data
    while delivery.pending > 0:
        buffered += receive(link, delivery.pending)
    try:
        header = header_of_complete(buffered) if complete else parse_header(buffered)
    except MalformedMessage as e:
        core.log("warning", "message", f"rejected a malformed message: {e}")
        _refuse(core, conn, link, delivery, REJECTED)
        return
    if header is None:
        delivery.buffer = buffered
        return
    _route(core, conn, link, delivery, header, buffered, complete, now)


def _route(
    core: RouterCore,
    conn: RouterConnection,
    link: Link,
    delivery: Delivery,
    header: MessageHeader,
    buffered: bytes,
    complete: bool,
    now: float,
) -> None:
    """Decide once where a new incoming delivery goes."""
    conn.last_delivery_at = now
    address = control.normalize_address(header.address or link.target.address or "")
    if control.is_whole_message_address(core, address) or link == conn.tracking_link:
        if not complete:
            delivery.buffer = buffered
            return
        delivery.settle()
        _replenish(link)
        control.handle_message(core, conn, link, address, header, buffered, now)
        return
    body = buffered[header.stream_offset :] if header.stream_offset is not None else b""
    trace = header.annotations.trace if header.annotations else ()
    flow = core.tcp.reply_flows.get(address)
    if flow is not None:
        _accept_stream(core, conn, link, delivery, flow, body, complete)
        return
    if core.is_local_address(address):
        _refuse(core, conn, link, delivery, RELEASED)
        return
    route = core.route_to_address(address)
    if route is not None:
        next_conn, router = route
        if router in trace:
            _refuse(core, conn, link, delivery, RELEASED)
            return
        _forward(core, conn, link, delivery, next_conn, header, address, buffered, body, complete)
        return
    from_edge = conn.peer_id if conn.origin.role == "edge" and not core.edge_mode else ""
    destination = core.choose_destination(address, exclude=trace, from_edge=from_edge)
    if destination is None:
        _refuse(core, conn, link, delivery, RELEASED)
        return
    if destination.kind != "local":
        hop = core.connection_for(destination)
        if hop is None:
            _refuse(core, conn, link, delivery, RELEASED)
            return
        _forward(core, conn, link, delivery, hop, header, address, buffered, body, complete)
        return
    if header.stream_offset is None or not header.reply_to:
        _refuse(core, conn, link, delivery, REJECTED)
        return
    reply_to = control.normalize_address(header.reply_to)
    flow = core.tcp.start_connector_flow(destination.name, reply_to)
    _accept_stream(core, conn, link, delivery, flow, body, complete)


def _forward(
    core: RouterCore,
    conn: RouterConnection,
    link: Link,
    delivery: Delivery,
    next_conn: RouterConnection,
    header: MessageHeader,
    address: str,
    buffered: bytes,
    body: bytes,
    complete: bool,
) -> None:
    """Cut-through: the delivery goes on to the next hop as its bytes arrive."""
    core.deliveries.transit += 1
    forwarder = Forwarder()
    head = buffered[header.bare_offset : len(buffered) - len(body)]
    received = header.annotations
    if received is None:
        # from an ordinary client (a management request): no annotations yet
        streaming = RA_FLAG_STREAMING if header.stream_offset is not None else 0
        received = RouterAnnotations(flags=streaming)
    if header.address is None:
        # addressed by its link's target, which the next hop does not see: as
        # skupper-router does, the address travels as the to-override annotation
        received = replace(received, to_override=address)
    forwarder.outbound = core.stream_on(next_conn, head, forwarder, received)
    _accept_stream(core, conn, link, delivery, forwarder, body, complete)


def _accept_stream(
    core: RouterCore,
    conn: RouterConnection,
    link: Link,
    delivery: Delivery,
    owner: TcpFlow | Forwarder,
    body: bytes,
    complete: bool,
) -> None:
    stream = _inbound_stream(core, conn, link, delivery, owner)
    owner.inbound = stream
    conn.active_streams.add(stream)
    # Give back the credit the delivery took, now rather than at its end: the flow frame
    # also makes a skupper-router sender look at the delivery again. Its first send can
    # miss data its producer adds meanwhile (the wake-up is armed after the send), and
    # with nothing else to wake it the stream would stall for good.
    link.flow(DATA_LINK_CREDIT - (link.credit - link.queued))
    if body:
        owner.stream_data(body)
    if complete:
        end_inbound(conn, link, stream, aborted=False)


def _inbound_stream(
    core: RouterCore,
    conn: RouterConnection,
    link: Link,
    delivery: Delivery,
    owner: TcpFlow | Forwarder | _Discard,
) -> InboundStream:
    def settled(stream: InboundStream) -> None:
        conn.active_streams.discard(stream)
        _replenish(link)
        counts = core.deliveries
        if stream.outcome == ACCEPTED:
            counts.accepted += 1
        elif stream.outcome == RELEASED:
            counts.released += 1
        elif stream.outcome == MODIFIED:
            counts.modified += 1

    return InboundStream(delivery, owner, partial(core.mark_dirty, conn.conn_id), settled)


def end_inbound(
    conn: RouterConnection, link: Link, stream: InboundStream, *, aborted: bool
) -> None:
    if stream.ended:
        return
    stream.ended = True
    conn.active_streams.discard(stream)
    if aborted:
        stream.settled = True
        stream.delivery.settle()  # settling the current delivery also advances the link
    else:
        link.advance()  # all of it arrived: its owner settles it with the outcome
    _replenish(link)
    stream.owner.stream_end(aborted)


def _refuse(
    core: RouterCore,
    conn: RouterConnection,
    link: Link,
    delivery: Delivery,
    outcome: int,
) -> None:
    """Give a terminal outcome and settle now; proton drops what still arrives of it."""
    _inbound_stream(core, conn, link, delivery, _DISCARD).complete(outcome)


def _replenish(link: Link) -> None:
    if link.credit < DATA_LINK_CREDIT // 2:
        link.flow(DATA_LINK_CREDIT - (link.credit - link.queued))


def fail_stream(stream: Any) -> None:
    """The link or connection under a stream is gone."""
    if isinstance(stream, InboundStream):
        if not stream.ended:
            stream.ended = True
            stream.settled = True
            stream.owner.stream_end(True)
    elif isinstance(stream, OutboundStream) and not stream.settled:
        stream.owner.stream_outcome(MODIFIED)
        stream.abort()


class _Discard:
    """The owner of a refused delivery that is still arriving: its bytes are dropped."""

    inbound: InboundStream | None = None

    def stream_data(self, data: bytes) -> None:
        pass

    def stream_end(self, aborted: bool) -> None:
        pass

    def stream_acked(self, offset: int) -> None:
        pass

    def stream_outcome(self, outcome: int) -> None:
        pass


_DISCARD = _Discard()

_Handler = Callable[["RouterCore", RouterConnection, Event, float], None]
_HANDLERS: dict[int, _Handler] = {
    _lib.PN_CONNECTION_REMOTE_OPEN: _on_remote_open,
    _lib.PN_CONNECTION_REMOTE_CLOSE: _on_remote_close,
    _lib.PN_SESSION_REMOTE_OPEN: _on_session_open,
    _lib.PN_LINK_REMOTE_OPEN: _on_link_open,
    _lib.PN_LINK_REMOTE_CLOSE: _on_link_close,
    _lib.PN_LINK_REMOTE_DETACH: _on_link_close,
    _lib.PN_DELIVERY: _on_delivery,
    _lib.PN_TRANSPORT_CLOSED: _on_transport_closed,
}
_WANTED = frozenset(_HANDLERS)
