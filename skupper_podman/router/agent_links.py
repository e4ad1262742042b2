"""Management entities of this router's connections and links, and of its configured
listeners and connectors (``agent.py`` answers with them), as skupper-router names them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from proton import Link

from .config import TcpConnector, TcpListener
from .connection import RouterConnection
from .flow_records import FlowRecord

if TYPE_CHECKING:
    from .view import RouterView

ENTITY_PREFIX = "io.skupper.router."
Row = dict[str, Any]
Table = Callable[["RouterView"], list[Row]]


def named(kind: str, identity: str, **attributes: Any) -> Row:
    return {"identity": identity, "type": ENTITY_PREFIX + kind} | attributes


# --- connections and links ----------------------------------------------------------------------


def connections(view: RouterView) -> list[Row]:
    rows = [_connection(view, conn) for conn in view.connections.values()]
    for flow in view.tcp.flows.values():
        rows.append(
            named(
                "connection",
                f"tcp/{flow.flow_id}",
                name=f"tcp/{flow.flow_id}",
                protocol="tcp",
                role="normal",
                dir="in" if flow.side == "listener" else "out",
                container="TcpAdaptor",
                opened=True,
                operStatus="up",
                adminStatus="enabled",
                isEncrypted=False,
                isAuthenticated=False,
                sasl="",
                user="",
                ssl=False,
            )
        )
    return rows


def _connection(view: RouterView, conn: RouterConnection) -> Row:
    engine = conn.engine
    ssl = engine.ssl
    last = conn.last_delivery_at
    return named(
        "connection",
        str(conn.conn_id),
        name=f"connection/{conn.peer_host}#{conn.conn_id}",
        host=conn.peer_host,
        protocol="amqp",
        role=conn.role,
        dir="out" if conn.dialled else "in",
        container=conn.peer_id,
        opened=conn.opened,
        operStatus="up" if conn.opened else "down",
        adminStatus="enabled",
        active=True,
        isEncrypted=ssl is not None,
        ssl=ssl is not None,
        sslProto=ssl.protocol_name() if ssl is not None else None,
        sslCipher=ssl.cipher_name() if ssl is not None else None,
        sslSsf=256 if ssl is not None else 0,
        isAuthenticated=bool(engine.peer_subject),
        sasl="EXTERNAL" if ssl is not None else "ANONYMOUS",
        user=engine.peer_subject or "anonymous",
        uptimeSeconds=int(view.now - conn.created_at),
        lastDlvSeconds=None if last is None else int(view.now - last),
        properties=plain(conn.engine.connection.remote_properties),
        # our own, read by `site status`
        cost=conn.cost,
        linkName=conn.origin.name,
    )


def plain(properties: Any) -> dict[str, Any]:
    return {str(k): v for k, v in (properties or {}).items()}


def all_links(view: RouterView) -> Iterable[tuple[RouterConnection, Link]]:
    for conn in view.connections.values():
        link = conn.engine.connection.link_head(0)
        while link is not None:
            yield conn, link
            link = link.next(0)


def links(view: RouterView) -> list[Row]:
    rows = []
    for index, (conn, link) in enumerate(all_links(view), start=1):
        link_type, owner, priority = _link_kind(view, conn, link)
        active = bool(link.state & Link.LOCAL_ACTIVE and link.state & Link.REMOTE_ACTIVE)
        rows.append(
            named(
                "router.link",
                str(index),
                name=link.name,
                linkName=link.name,
                linkType=link_type,
                linkDir="out" if link.is_sender else "in",
                connectionId=str(conn.conn_id),
                owningAddr=owner,
                capacity=250,
                priority=priority,
                undeliveredCount=link.queued if link.is_sender else 0,
                unsettledCount=link.unsettled,
                deliveryCount=0,
                presettledCount=0,
                droppedPresettledCount=0,
                acceptedCount=0,
                rejectedCount=0,
                releasedCount=0,
                modifiedCount=0,
                deliveriesDelayed1Sec=0,
                deliveriesDelayed10Sec=0,
                deliveriesStuck=0,
                openMovedStreams=0,
                creditAvailable=link.credit,
                zeroCreditSeconds=0,
                settleRate=0,
                adminStatus="enabled",
                operStatus="up" if active else "down",
            )
        )
    return rows


def _link_kind(view: RouterView, conn: RouterConnection, link: Link) -> tuple[str, str | None, int]:
    """skupper-router's link type, owning address (hash key) and priority of a link."""
    if link == conn.control_sender:
        return "router-control", "Lqdhello", 9
    if link == conn.control_receiver:
        return "router-control", None, 9
    if conn.role in ("inter-router", "inter-router-data"):
        if link in conn.data_senders:
            return "inter-router", None, conn.data_senders.index(link)
        return "inter-router", None, 4
    if conn.role == "edge":
        return "edge-downlink" if link == conn.tracking_link else "endpoint", None, 4
    terminus = link.source if link.is_sender else link.target
    address = terminus.address or ""
    if link.is_sender and address in conn.dynamic_addresses:
        return "endpoint", "L" + address.rsplit("/", 1)[-1], 4
    return "endpoint", ("M" + address) if address else None, 4


# --- configured entities ------------------------------------------------------------------------


def listeners(view: RouterView) -> list[Row]:
    return [
        named(
            "listener",
            f"listener/{listener.host}:{listener.port}:{name}",
            name=name,
            host=listener.host,
            port=str(listener.port),
            role=listener.role,
            cost=listener.cost,
            sslProfile=listener.sslProfile or None,
            saslMechanisms=listener.saslMechanisms or None,
            authenticatePeer=listener.authenticatePeer,
            requireSsl=listener.requireSsl,
            maxFrameSize=listener.maxFrameSize,
            idleTimeoutSeconds=listener.idleTimeoutSeconds,
        )
        for name, listener in view.config.listeners.items()
    ]


def connectors(view: RouterView) -> list[Row]:
    return [
        named(
            "connector",
            f"connector/{state.config.host}:{state.config.port}:{name}",
            name=name,
            host=state.config.host,
            port=str(state.config.port),
            role=state.config.role,
            cost=state.config.cost,
            sslProfile=state.config.sslProfile or None,
            saslMechanisms=state.config.saslMechanisms or None,
            verifyHostname=state.config.verifyHostname,
            maxFrameSize=state.config.maxFrameSize,
            idleTimeoutSeconds=state.config.idleTimeoutSeconds,
            connectionStatus=state.status,
            connectionMsg=state.message,
        )
        for name, state in view.connectors.states.items()
    ]


def tcp(kind: str) -> Table:
    def table(view: RouterView) -> list[Row]:
        entities = view.config.tcp_listeners if kind == "listener" else view.config.tcp_connectors
        entity_type = "tcpListener" if kind == "listener" else "tcpConnector"
        rows = []
        for name, entity in entities.items():
            counters = view.tcp.counters.get((kind, name))
            up = name in view.tcp.listening if kind == "listener" else view.tcp.health.is_up(name)
            message = counters.last_error if counters else ""
            if not up and kind == "connector":
                message = f"backend out of rotation: {view.tcp.health.backends[name].last_error}"
            rows.append(
                named(
                    entity_type,
                    f"{entity_type}/{entity.host}:{entity.port}:{name}",
                    name=name,
                    host=entity.host,
                    port=str(entity.port),
                    address=entity.address,
                    siteId=entity.siteId or None,
                    operStatus="up" if up else "down",
                    connectionMsg=message,
                    connectionsFailed=counters.failed if counters else 0,
                    sslProfile=entity.sslProfile or None,
                    connectionsOpened=counters.connections_opened if counters else 0,
                    connectionsClosed=counters.connections_closed if counters else 0,
                    bytesIn=counters.bytes_in if counters else 0,
                    bytesOut=counters.bytes_out if counters else 0,
                )
                | _tcp_extras(entity)
            )
        return rows

    return table


def _tcp_extras(entity: TcpListener | TcpConnector) -> Row:
    if isinstance(entity, TcpListener):
        return {
            "authenticatePeer": entity.authenticatePeer,
            "backlog": 0,
            "multiAddressStrategy": entity.multiAddressStrategy,
            "observer": entity.observer or "auto",
        }
    return {"verifyHostname": entity.verifyHostname}


def tcp_connections(view: RouterView) -> list[Row]:
    """Live flows first (oldest first), then those that ended (latest first)."""
    now = view.now
    live = [FlowRecord.of(flow).row(now) for flow in view.tcp.flows.values()]
    return live + [record.row(now) for record in reversed(view.tcp.recent)]
