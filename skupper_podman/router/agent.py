"""The $management agent: AMQP management requests answered from the router's state.

Entity types and their attributes are skupper-router's (``io.skupper.router.<type>``,
its ``skrouter.json`` schema), so the reference's own tools work against our router:
``skstat`` (-g router, -c connections, -l links, -n nodes, -a addresses) and ``skmanage
query``. Attributes we do not track answer as skupper-router's defaults (mostly zero
counters). Operations: QUERY (with offset and count), READ, and the node operations
GET-MGMT-NODES, GET-TYPES, GET-ATTRIBUTES, GET-OPERATIONS. The configuration changes
only through the config file: CREATE, UPDATE and DELETE are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from proton import Link, Message

from . import VERSION, listener_keys
from . import routing_messages as wire
from .config import TcpConnector, TcpListener
from .connection import RouterConnection

if TYPE_CHECKING:
    from .view import RouterView

PREFIXES = ("io.skupper.router.", "org.apache.qpid.dispatch.")
ENTITY_PREFIX = PREFIXES[0]
MANAGEMENT_NODE_TYPE = "org.amqp.management"
Row = dict[str, Any]
Table = Callable[["RouterView"], list[Row]]


def handle_request(view: RouterView, request: Message) -> Message | None:
    if not request.reply_to:
        return None
    properties: dict[Any, Any] = dict(request.properties or {})
    operation = str(properties.get("operation") or "")
    node_operation = _NODE_OPERATIONS.get(operation)
    if node_operation is not None:
        return _reply(request, 200, "OK", node_operation(view))
    entity_type = str(properties.get("entityType") or properties.get("type") or "")
    short = _short(entity_type)
    if operation not in ("QUERY", "READ"):
        return _reply(request, 501, f"operation {operation!r} is not supported", None)
    table = _ENTITIES.get(short)
    if table is None:
        return _reply(request, 404, f"unknown entity type {entity_type!r}", None)
    rows = table(view)
    if operation == "READ":
        name = properties.get("name") or properties.get("identity")
        match = [row for row in rows if name in (row.get("name"), row.get("identity"))]
        if not match:
            return _reply(request, 404, f"no {short} named {name!r}", None)
        return _reply(request, 200, "OK", match[0])
    body = request.body if isinstance(request.body, dict) else {}
    names = [str(n) for n in body.get("attributeNames") or []]
    if not names:
        names = sorted({key for row in rows for key in row})
    offset = int(properties.get("offset") or 0)
    count = properties.get("count")
    window = rows[offset:] if count is None else rows[offset : offset + int(count)]
    results = [[row.get(name) for name in names] for row in window]
    return _reply(request, 200, "OK", {"attributeNames": names, "results": results})


def _short(entity_type: str) -> str:
    for prefix in PREFIXES:
        if entity_type.startswith(prefix):
            return entity_type[len(prefix) :]
    return entity_type


def _reply(request: Message, status: int, description: str, body: Any) -> Message:
    return Message(
        address=request.reply_to,
        correlation_id=request.id if request.id is not None else request.correlation_id,
        properties={"statusCode": status, "statusDescription": description},
        body=body,
    )


def _named(kind: str, identity: str, **attributes: Any) -> Row:
    return {"identity": identity, "type": ENTITY_PREFIX + kind} | attributes


# --- the router --------------------------------------------------------------------------------


def _router(view: RouterView) -> list[Row]:
    config, settings = view.config, view.config.router
    return [
        _named(
            "router",
            f"router/{view.router_id}",
            name=f"router/{view.router_id}",
            id=view.router_id,
            mode=settings.mode,
            area="0",
            version=VERSION,
            hostName=view.process_info().get("hostName", ""),
            helloIntervalSeconds=settings.helloIntervalSeconds,
            helloMaxAgeSeconds=settings.helloMaxAgeSeconds,
            raIntervalSeconds=settings.raIntervalSeconds,
            raIntervalFluxSeconds=settings.raIntervalFluxSeconds,
            remoteLsMaxAgeSeconds=settings.remoteLsMaxAgeSeconds,
            unreachableHoldoffSeconds=1,
            workerThreads=1,
            defaultDistribution="balanced",
            dataConnectionCount="0",
            dropTcpConnections=True,
            debugDumpFile=settings.debugDumpFile or None,
            saslConfigDir=None,
            saslConfigName=None,
            timestampsInUTC=False,
            timestampFormat=None,
            metadata=None,
            instance=view.instance,
            # our own, read by `site status` and `network status`
            product="skupper-podman",
            site=config.site.name,
            namespace=config.site.namespace,
            platform=config.site.platform,
            connectionCount=len(view.connections),
            nodeCount=_node_count(view),
            tcpFlowCount=len(view.tcp.flows),
        )
    ]


def _router_metrics(view: RouterView) -> list[Row]:
    info = view.process_info()
    counts = view.deliveries
    amqp = sum(1 for c in view.connections.values() if c.origin.role == "normal")
    return [
        _named(
            "routerMetrics",
            "1",
            id=view.router_id,
            version=VERSION,
            uptimeSeconds=int(view.now - view.started_at),
            memoryUsage=info.get("memoryUsage"),
            residentMemoryUsage=info.get("residentMemoryUsage"),
            addrCount=len(_addresses(view)),
            linkCount=sum(1 for _ in _all_links(view)),
            nodeCount=_node_count(view),
            autoLinkCount=0,
            connectionCount=len(view.connections) + len(view.tcp.flows),
            presettledDeliveries=0,
            droppedPresettledDeliveries=0,
            acceptedDeliveries=counts.accepted,
            rejectedDeliveries=0,
            releasedDeliveries=counts.released,
            modifiedDeliveries=counts.modified,
            deliveriesIngress=counts.ingress,
            deliveriesEgress=counts.egress,
            deliveriesTransit=counts.transit,
            deliveriesIngressRouteContainer=0,
            deliveriesEgressRouteContainer=0,
            deliveriesIngressInterNetwork=0,
            deliveriesEgressInterNetwork=0,
            deliveriesDelayed1Sec=0,
            deliveriesDelayed10Sec=0,
            deliveriesStuck=0,
            connectionCounters={"amqp": amqp, "tcp": len(view.tcp.flows), "http1": 0, "http2": 0},
        )
    ]


def _network(view: RouterView) -> list[Row]:
    return [_named("network", "network/0", name="network/0", networkId=None, tenantId=None)]


def _site(view: RouterView) -> list[Row]:
    site = view.config.site
    if not site.name:
        return []
    return [
        _named(
            "site",
            f"site/{site.name}",
            name=site.name,
            namespace=site.namespace,
            platform=site.platform,
            version=site.version or VERSION,
            location=site.location,
            provider=site.provider,
        )
    ]


def _node_count(view: RouterView) -> int:
    return len(view.fabric.routing.reachable_routers()) if view.fabric.routing else 0


# --- connections and links ----------------------------------------------------------------------


def _connections(view: RouterView) -> list[Row]:
    rows = [_connection(view, conn) for conn in view.connections.values()]
    for flow in view.tcp.flows.values():
        rows.append(
            _named(
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
    return _named(
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
        properties=_plain(conn.engine.connection.remote_properties),
        # our own, read by `site status`
        cost=conn.cost,
        linkName=conn.origin.name,
    )


def _plain(properties: Any) -> dict[str, Any]:
    return {str(k): v for k, v in (properties or {}).items()}


def _all_links(view: RouterView) -> Iterable[tuple[RouterConnection, Link]]:
    for conn in view.connections.values():
        link = conn.engine.connection.link_head(0)
        while link is not None:
            yield conn, link
            link = link.next(0)


def _links(view: RouterView) -> list[Row]:
    rows = []
    for index, (conn, link) in enumerate(_all_links(view), start=1):
        link_type, owner, priority = _link_kind(view, conn, link)
        active = bool(link.state & Link.LOCAL_ACTIVE and link.state & Link.REMOTE_ACTIVE)
        rows.append(
            _named(
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


# --- routers and addresses ----------------------------------------------------------------------


def _nodes(view: RouterView) -> list[Row]:
    routing = view.fabric.routing
    if routing is None:
        return []
    changed = view.instance + int(routing.last_topology_change - view.started_at)
    own = routing.link_state(view.router_id) or {}
    rows = [_node(view, view.router_id, 0, own, nextHop="(self)", lastTopoChange=changed)]
    for index, (router, cost) in enumerate(sorted(routing.reachable_routers().items()), 1):
        hop = routing.next_hop(router)
        neighbour = view.fabric.neighbors.get(router)
        extra: dict[str, Any] = {"cost": cost}
        if hop == router and neighbour is not None:
            extra["routerLink"] = neighbour.conn_id
        else:
            extra["nextHop"] = hop
        rows.append(_node(view, router, index, routing.link_state(router) or {}, **extra))
    return rows


def _node(view: RouterView, router: str, index: int, peers: dict[str, int], **extra: Any) -> Row:
    assert view.fabric.routing is not None
    return _named(
        "router.node",
        f"router.node/{router}",
        name=f"router.node/{router}",
        id=router,
        index=index,
        protocolVersion=1,
        instance=view.fabric.routing.router_instance(router),
        linkState=sorted(peers),
        validOrigins=sorted(view.fabric.routing.valid_origins(router)),
        address=f"amqp:/_topo/0/{router}",
        # our own, read by `network status` of older sites
        reachable=True,
        neighbor=router in view.fabric.neighbors,
        **extra,
    )


_LOCAL_ADDRESSES = (
    ("Lqdhello", "flood"),
    ("Lqdrouter", "flood"),
    ("Lqdrouter.ma", "multicast"),
    ("Tqdrouter", "flood"),
    ("Tqdrouter.ma", "multicast"),
    ("L$management", "closest"),
    ("M$management", "closest"),
)


def _addresses(view: RouterView) -> list[Row]:
    rows = [_address(key, distribution) for key, distribution in _LOCAL_ADDRESSES]
    mobile: dict[str, Row] = {}
    for connector in view.config.tcp_connectors.values():
        row = mobile.setdefault(connector.address, _mobile(view, connector.address))
        row["subscriberCount"] += 1
    for name, listener in view.config.tcp_listeners.items():
        for key in listener_keys.keys(listener, view.config.listener_addresses.get(name, ())):
            mobile.setdefault(key, _mobile(view, key))
    for address, edges in view.fabric.addresses.edges.items():
        row = mobile.setdefault(address, _mobile(view, address))
        row["subscriberCount"] += len(edges)
    remote_keys = view.fabric.routing.remote_keys() if view.fabric.routing is not None else set()
    for key in sorted(remote_keys):
        if (remote_address := wire.decode_mobile_address(key)) is not None:
            mobile.setdefault(remote_address, _mobile(view, remote_address))
    rows += mobile.values()
    if view.fabric.routing is not None:
        for router in sorted(view.fabric.routing.reachable_routers()):
            rows.append(_address("R" + router, "closest", remoteCount=1))
    edge_keys = {wire.encode_edge_summary(edge): 1 for edge in view.fabric.edge_connections}
    for key in remote_keys:
        if key.startswith(wire.EDGE_PREFIX) and key not in edge_keys:
            edge_keys[key] = 0
    for key, local in sorted(edge_keys.items()):
        rows.append(_address(key, "closest", subscriberCount=local, remoteCount=1 - local))
    for address in sorted(view.fabric.endpoint_links):
        rows.append(_address("L" + address.rsplit("/", 1)[-1], "balanced", subscriberCount=1))
    return rows


def _mobile(view: RouterView, address: str) -> Row:
    remote = view.fabric.routing.routers_with_address(address) if view.fabric.routing else {}
    return _address(
        "M" + address,
        view.config.distribution(address),
        remoteCount=len(remote),
        remoteHostRouters=sorted(remote),
        address=address,
    )


def _address(key: str, distribution: str, **counts: Any) -> Row:
    return (
        _named(
            "router.address",
            key,
            name=key,
            key=key,
            distribution=distribution,
            inProcess=0,
            subscriberCount=0,
            remoteCount=0,
            containerCount=0,
            deliveriesIngress=0,
            deliveriesEgress=0,
            deliveriesTransit=0,
            deliveriesToContainer=0,
            deliveriesFromContainer=0,
            priority=-1,
            watch=False,
        )
        | counts
    )


# --- configured entities ------------------------------------------------------------------------


def _listeners(view: RouterView) -> list[Row]:
    return [
        _named(
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


def _connectors(view: RouterView) -> list[Row]:
    return [
        _named(
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


def _tcp(kind: str) -> Table:
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
                _named(
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
            "observer": "auto",
        }
    return {"verifyHostname": entity.verifyHostname}


_ENTITIES: dict[str, Table] = {
    "router": _router,
    "routerMetrics": _router_metrics,
    "network": _network,
    "site": _site,
    "connection": _connections,
    "router.link": _links,
    "router.node": _nodes,
    "router.address": _addresses,
    "listener": _listeners,
    "connector": _connectors,
    "tcpListener": _tcp("listener"),
    "tcpConnector": _tcp("connector"),
}


# --- operations on the management node itself ----------------------------------------------------


def _mgmt_nodes(view: RouterView) -> list[str]:
    routers = [view.router_id]
    if view.fabric.routing is not None:
        routers += sorted(view.fabric.routing.reachable_routers())
    return [f"amqp:/_topo/0/{router}/$management" for router in routers]


def _types(view: RouterView) -> dict[str, list[str]]:
    return {ENTITY_PREFIX + kind: [] for kind in _ENTITIES}


def _attributes(view: RouterView) -> dict[str, list[str]]:
    return {
        ENTITY_PREFIX + kind: sorted({key for row in table(view) for key in row})
        for kind, table in _ENTITIES.items()
    }


def _operations(view: RouterView) -> dict[str, list[str]]:
    return {ENTITY_PREFIX + kind: ["QUERY", "READ"] for kind in _ENTITIES}


_NODE_OPERATIONS: dict[str, Callable[[RouterView], Any]] = {
    "GET-MGMT-NODES": _mgmt_nodes,
    "GET-TYPES": _types,
    "GET-ATTRIBUTES": _attributes,
    "GET-OPERATIONS": _operations,
}
