"""Proton events of one connection, turned into the router's decisions.

Links are classified when the peer attaches them (control, data, edge address links,
management endpoints); deliveries on them are ``delivery_events.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable

from cproton import lib as _lib
from proton import Link

from . import VERSION
from .connection import (
    ACCESS_ID_PROPERTY,
    CONTROL_CAPABILITY,
    DATA_LINK_CREDIT,
    EDGE_ADDRESS_TRACKING,
    EDGE_DOWNLINK_CAPABILITY,
    INCOMING_CAPACITY,
    OURS_PROPERTY,
    RouterConnection,
    capability_of,
)
from .delivery_events import fail_stream, on_delivery
from .engine import ProtonEvent as Event
from .event_context import EventContext


def process(ctx: EventContext, conn: RouterConnection, now: float) -> None:
    for event in conn.engine.events(_WANTED):
        if conn.refused:
            continue  # what a refused peer attached or sent is not acted on
        _HANDLERS[event.type](ctx, conn, event, now)


# --- connection, session and link lifecycle ----------------------------------------------------


def _on_remote_open(ctx: EventContext, conn: RouterConnection, event: Event, now: float) -> None:
    connection = event.connection
    conn.peer_id = connection.remote_container or ""
    if not conn.dialled and conn.engine.peer_fingerprint in ctx.fabric.config.revoked:
        ctx.connectors.refuse(conn, "amqp:unauthorized-access", "certificate revoked")
        return
    if not conn.dialled and conn.origin.role in ("inter-router", "edge"):
        clash = ctx.fabric.router_id_clash(conn)
        if clash:
            ctx.connectors.refuse(conn, "amqp:not-allowed", clash)
            return
    properties = connection.remote_properties or {}
    conn.peer_cost = int(properties.get("qd.inter-router-cost", 1) or 1)
    conn.peer_is_ours = OURS_PROPERTY in properties
    reporter = ctx.observation.reporter
    if not conn.dialled:
        conn.open(ctx.fabric.router_id, VERSION, reporter.access_id(conn.origin.name))
    elif properties.get(ACCESS_ID_PROPERTY):
        reporter.link_peer(conn.origin.name, str(properties[ACCESS_ID_PROPERTY]))
    conn.opened = True
    if conn.origin.role != "normal" and not connection.remote_condition:
        ctx.log(
            "info",
            "conn",
            f"connection {conn.conn_id} to {conn.peer_id} open (role {conn.origin.role})",
        )
    if conn.dialled:
        ctx.connectors.opened(conn)
        if conn.origin.role == "inter-router":
            conn.attach_router_links()
    if conn.origin.role == "edge":
        ctx.links.router_link_ready(conn, now)


def _on_remote_close(ctx: EventContext, conn: RouterConnection, event: Event, now: float) -> None:
    connection = event.connection
    if connection.state & connection.LOCAL_ACTIVE:
        connection.close()


def _on_session_open(ctx: EventContext, conn: RouterConnection, event: Event, now: float) -> None:
    session = event.session
    if session.state & session.LOCAL_UNINIT:
        session.incoming_capacity = INCOMING_CAPACITY
        session.open()


def _on_link_open(ctx: EventContext, conn: RouterConnection, event: Event, now: float) -> None:
    link = event.link
    if link.state & Link.LOCAL_UNINIT:
        _accept_link(ctx, conn, link, now)
    if conn.origin.role == "inter-router" and conn.control_ready and conn.peer_id:
        ctx.links.router_link_ready(conn, now)


def _accept_link(ctx: EventContext, conn: RouterConnection, link: Link, now: float) -> None:
    """The peer attached a link: decide what it is for, then attach our end."""
    remote = link.remote_target if link.is_receiver else link.remote_source
    capability = capability_of(remote)
    link.source.copy(link.remote_source)
    link.target.copy(link.remote_target)
    consumers_changed = False
    if capability == CONTROL_CAPABILITY and conn.origin.role == "inter-router":
        if link.is_sender:
            conn.control_sender = link
        else:
            conn.control_receiver = link
    elif link.is_sender and link.remote_source.dynamic:
        address = ctx.fabric.reply_address()
        link.source.address = address
        ctx.fabric.endpoint_links[address] = (conn.conn_id, link)
        conn.dynamic_addresses.add(address)
    elif link.is_sender and conn.origin.role == "edge" and not ctx.fabric.edge_mode:
        source = link.remote_source.address or ""
        if source == EDGE_ADDRESS_TRACKING:
            conn.tracking_link = link
        elif source and capability != EDGE_DOWNLINK_CAPABILITY:
            conn.edge_consumes.add(source)
            consumers_changed = True
    elif link.is_sender and conn.origin.role == "inter-router":
        conn.data_senders.append(link)
    elif conn.origin.role == "normal" and (address := terminus_address(link)):
        # a client subscribes (a flow collector's receiver): advertised like a consumer;
        # or sends to an address, which an edge must tell its interior it sends to
        consumers_changed = ctx.observation.subscriptions.add(address, conn.conn_id, link)
    elif link.is_receiver and conn.origin.role == "edge" and not ctx.fabric.edge_mode:
        target = link.remote_target.address or ""
        if target:
            conn.edge_produces.setdefault(target, None)
            ctx.fabric.reset_topology()
    link.open()
    if link.is_receiver:
        link.flow(DATA_LINK_CREDIT)
    if consumers_changed:
        ctx.links.edge_addresses_changed(now)


def terminus_address(link: Link) -> str:
    """The mobile address a client's link is for: a receiver's source, a sender's target
    ("" for the router's own: $management, _topo/..., _edge/...)."""
    terminus = link.remote_source if link.is_sender else link.remote_target
    address = terminus.address or ""
    return "" if address.startswith(("$", "_")) else address


def _on_link_close(ctx: EventContext, conn: RouterConnection, event: Event, now: float) -> None:
    link = event.link
    conn.link_wrappers.pop(link._impl, None)
    current = link.current
    stream = getattr(current, "stream", None) if current is not None else None
    if stream is not None:
        fail_stream(stream)
    if link.state & Link.LOCAL_ACTIVE:
        link.close()
    if link == conn.control_sender or link == conn.control_receiver:
        ctx.links.router_link_lost(conn, now)
    if ctx.observation.subscriptions.remove(conn.conn_id, link):
        ctx.links.edge_addresses_changed(now)
    if link.is_sender and conn.edge_consumes:
        source = link.source.address or ""
        if source in conn.edge_consumes:
            conn.edge_consumes.discard(source)
            ctx.links.edge_addresses_changed(now)


def _on_transport_closed(
    ctx: EventContext, conn: RouterConnection, event: Event, now: float
) -> None:
    ctx.links.connection_down(conn, conn.engine.error or "connection closed", now)


# --- deliveries ----------------------------------------------------------------------------------


_Handler = Callable[[EventContext, RouterConnection, Event, float], None]
_HANDLERS: dict[int, _Handler] = {
    _lib.PN_CONNECTION_REMOTE_OPEN: _on_remote_open,
    _lib.PN_CONNECTION_REMOTE_CLOSE: _on_remote_close,
    _lib.PN_SESSION_REMOTE_OPEN: _on_session_open,
    _lib.PN_LINK_REMOTE_OPEN: _on_link_open,
    _lib.PN_LINK_REMOTE_CLOSE: _on_link_close,
    _lib.PN_LINK_REMOTE_DETACH: _on_link_close,
    _lib.PN_DELIVERY: on_delivery,
    _lib.PN_TRANSPORT_CLOSED: _on_transport_closed,
}
_WANTED = frozenset(_HANDLERS)
