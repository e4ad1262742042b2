"""Deliveries on a connection's links: each is buffered until its header parses, then
routed once (a whole message for ``control.py``, a reply stream for one of our TCP flows,
a new flow for a local tcpConnector, or a stream passed on to the next hop); after that
its bytes go straight to the stream's owner.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from proton import Link

from . import control
from .connection import DATA_LINK_CREDIT, RouterConnection
from .engine import ProtonEvent as Event
from .event_context import EventContext
from .forwarder import Forwarder
from .inbound_stream import InboundStream
from .message import (
    RA_FLAG_STREAMING,
    MalformedMessage,
    MessageHeader,
    RouterAnnotations,
    header_of_complete,
    parse_header,
)
from .proton_deliveries import DeliveryHandle, DeliveryState
from .streams import (
    ACCEPTED,
    MODIFIED,
    NO_OWNER,
    REJECTED,
    RELEASED,
    SETTLED_HERE,
    UNDELIVERABLE_HERE,
    OutboundStream,
    StreamOwner,
)
from .tcp import TcpFlow


def on_delivery(ctx: EventContext, conn: RouterConnection, event: Event, now: float) -> None:
    state = event.delivery_state
    stream = state.attribute("stream")
    if isinstance(stream, OutboundStream):
        stream.on_update()  # the peer updated a delivery we send
        return
    if isinstance(stream, InboundStream):
        _stream_bytes(conn, event, state, stream)
        return
    if stream == SETTLED_HERE:
        # Nothing more to do with it. Never read it: proton drops what still arrives for a
        # delivery settled here, and reading goes to the link's current delivery, which
        # is another one by now.
        return
    link = event.link_of(conn.link_wrappers)
    if link.is_sender:
        return
    delivery = state.hold()
    if state.aborted:
        delivery.settle()
        _replenish(link)
        return
    complete = not state.partial
    earlier = delivery.attributes.get("buffer")  # a header that came in parts so far
    buffered = earlier if isinstance(earlier, bytes) else b""
    while more := state.receive():
        buffered += more
    try:
        header = header_of_complete(buffered) if complete else parse_header(buffered)
    except MalformedMessage as e:
        ctx.log("warning", "message", f"rejected a malformed message: {e}")
        _refuse(ctx, conn, link, delivery, REJECTED)
        return
    if header is None:
        delivery.attributes["buffer"] = buffered
        return
    _route(ctx, conn, link, delivery, header, buffered, complete, now)


def _stream_bytes(
    conn: RouterConnection, event: Event, state: DeliveryState, stream: InboundStream
) -> None:
    """The data path: a stream's next bytes to its owner, read without wrapping anything
    (its link's wrapper, needed when the stream ends, is made once per link)."""
    if state.aborted:
        end_inbound(conn, event.link_of(conn.link_wrappers), stream, aborted=True)
        return
    data = state.receive()
    complete = not state.partial
    while data:
        stream.owner.stream_data(data)
        if stream.settled:
            return  # its owner gave the outcome: the link has moved on
        data = state.receive()
    if complete:
        end_inbound(conn, event.link_of(conn.link_wrappers), stream, aborted=False)


def _route(
    ctx: EventContext,
    conn: RouterConnection,
    link: Link,
    delivery: DeliveryHandle,
    header: MessageHeader,
    buffered: bytes,
    complete: bool,
    now: float,
) -> None:
    """Decide once where a new incoming delivery goes."""
    conn.last_delivery_at = now
    address = control.normalize_address(header.address or link.target.address or "")
    if ctx.streams.awaiting_reply:
        ctx.streams.reply_started(address)
    if control.is_whole_message_address(ctx.control, address) or link == conn.tracking_link:
        if not complete:
            delivery.attributes["buffer"] = buffered
            return
        delivery.settle()
        _replenish(link)
        control.handle_message(ctx.control, conn, link, address, header, buffered, now)
        return
    streaming = header.annotations is not None and header.annotations.flags & RA_FLAG_STREAMING
    if not streaming and ctx.observation.wants(address):
        if not complete:
            delivery.attributes["buffer"] = buffered
            return
        delivery.settle()
        _replenish(link)
        _subscribed_message(ctx, conn, address, header, buffered)
        return
    body = buffered[header.stream_offset :] if header.stream_offset is not None else b""
    trace = header.annotations.trace if header.annotations else ()
    flow = ctx.tcp.reply_flows.get(address)
    if flow is not None:
        _accept_stream(ctx, conn, link, delivery, flow, body, complete)
        return
    if ctx.fabric.is_local_address(address):
        _refuse(ctx, conn, link, delivery, RELEASED)
        return
    route = ctx.fabric.route_to_address(address)
    if route is not None:
        next_conn, router = route
        # A delivery to a router's own address (a reply stream) goes on even back to where
        # it came from while routes change: a reply cannot be sent again, and the loop
        # ends when routes settle (unlike a new request, which its listener sends again).
        if router in trace:
            _refuse(ctx, conn, link, delivery, RELEASED)
            return
        _forward(ctx, conn, link, delivery, next_conn, header, address, buffered, body, complete)
        return
    from_edge = conn.peer_id if conn.origin.role == "edge" and not ctx.fabric.edge_mode else ""
    destination = ctx.fabric.choose_destination(address, exclude=trace, from_edge=from_edge)
    if destination is None:
        _refuse(ctx, conn, link, delivery, RELEASED)
        return
    if destination.kind != "local":
        hop = ctx.fabric.connection_for(destination)
        if hop is None:
            _refuse(ctx, conn, link, delivery, RELEASED)
            return
        _forward(ctx, conn, link, delivery, hop, header, address, buffered, body, complete)
        return
    if header.stream_offset is None or not header.reply_to:
        _refuse(ctx, conn, link, delivery, REJECTED)
        return
    reply_to = control.normalize_address(header.reply_to)
    record_id = header.correlation_id if isinstance(header.correlation_id, str) else ""
    flow = ctx.tcp.start_connector_flow(destination.name, reply_to, record_id)
    _accept_stream(ctx, conn, link, delivery, flow, body, complete)


def _subscribed_message(
    ctx: EventContext, conn: RouterConnection, address: str, header: MessageHeader, data: bytes
) -> None:
    received = header.annotations
    if header.address is None:  # addressed by its link's target: the next hop must see it
        received = replace(received or RouterAnnotations(), to_override=address)
    ctx.observation.deliver(address, data[header.bare_offset :], received, conn)


def _forward(
    ctx: EventContext,
    conn: RouterConnection,
    link: Link,
    delivery: DeliveryHandle,
    next_conn: RouterConnection,
    header: MessageHeader,
    address: str,
    buffered: bytes,
    body: bytes,
    complete: bool,
) -> None:
    """Cut-through: the delivery goes on to the next hop as its bytes arrive."""
    ctx.deliveries.transit += 1
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
    reply_to = control.normalize_address(header.reply_to) if header.reply_to else ""
    forwarder.outbound = ctx.streams.stream_on(next_conn, head, forwarder, received, reply_to)
    ctx.streams.pair_reply(forwarder, address, reply_to, from_ours=conn.peer_is_ours)
    _accept_stream(ctx, conn, link, delivery, forwarder, body, complete)


def _accept_stream(
    ctx: EventContext,
    conn: RouterConnection,
    link: Link,
    delivery: DeliveryHandle,
    owner: TcpFlow | Forwarder,
    body: bytes,
    complete: bool,
) -> None:
    stream = _inbound_stream(ctx, conn, link, delivery, owner)
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
    ctx: EventContext,
    conn: RouterConnection,
    link: Link,
    delivery: DeliveryHandle,
    owner: StreamOwner,
) -> InboundStream:
    def settled(stream: InboundStream) -> None:
        conn.active_streams.discard(stream)
        _replenish(link)
        counts = ctx.deliveries
        if stream.outcome == ACCEPTED:
            counts.accepted += 1
        elif stream.outcome == RELEASED:
            counts.released += 1
        elif stream.outcome in (MODIFIED, UNDELIVERABLE_HERE):
            counts.modified += 1

    return InboundStream(delivery, owner, partial(ctx.mark_dirty, conn.conn_id), settled)


def end_inbound(
    conn: RouterConnection, link: Link, stream: InboundStream, *, aborted: bool
) -> None:
    if stream.ended:
        return
    stream.ended = True
    conn.active_streams.discard(stream)
    if aborted:
        stream.settle_aborted()
    else:
        link.advance()  # all of it arrived: its owner settles it with the outcome
    _replenish(link)
    stream.owner.stream_end(aborted)
    if stream.settled:
        stream.owner = NO_OWNER  # done: see streams._NoOwner


def _refuse(
    ctx: EventContext,
    conn: RouterConnection,
    link: Link,
    delivery: DeliveryHandle,
    outcome: int,
) -> None:
    """Give a terminal outcome and settle now; proton drops what still arrives of it."""
    _inbound_stream(ctx, conn, link, delivery, NO_OWNER).complete(outcome)


def _replenish(link: Link) -> None:
    if link.credit < DATA_LINK_CREDIT // 2:
        link.flow(DATA_LINK_CREDIT - (link.credit - link.queued))


def fail_stream(stream: Any) -> None:
    """The link or connection under a stream is gone."""
    if isinstance(stream, InboundStream):
        stream.forget()
        if not stream.ended:
            stream.ended = True
            stream.settled = True
            stream.owner.stream_end(True)
        stream.owner = NO_OWNER
    elif isinstance(stream, OutboundStream) and not stream.settled:
        stream.owner.stream_outcome(MODIFIED)
        stream.abort()
