"""The $management agent: AMQP management QUERY requests answered from the core's state.

Entity types are named as skupper-router names them (``io.skupper.router.<type>``) so
that Skupper's tools and ours read the same answers. Only QUERY and READ are served; a
router's configuration changes through its config file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proton import Message

from . import VERSION

if TYPE_CHECKING:
    from .core import RouterCore

ENTITY_PREFIX = "io.skupper.router."
Rows = list[dict[str, Any]]


def handle_request(core: RouterCore, request: Message) -> Message | None:
    if not request.reply_to:
        return None
    properties: dict[Any, Any] = dict(request.properties or {})
    operation = properties.get("operation")
    entity_type = str(properties.get("entityType") or properties.get("type") or "")
    short = entity_type.removeprefix(ENTITY_PREFIX)
    if operation not in ("QUERY", "READ"):
        return _reply(request, 501, f"operation {operation!r} is not supported", None)
    table = _ENTITIES.get(short)
    if table is None:
        return _reply(request, 404, f"unknown entity type {entity_type!r}", None)
    rows = table(core)
    if operation == "READ":
        name = properties.get("name") or properties.get("identity")
        match = [row for row in rows if name in (row.get("name"), row.get("identity"))]
        if not match:
            return _reply(request, 404, f"no {short} named {name!r}", None)
        return _reply(request, 200, "OK", match[0])
    body = request.body if isinstance(request.body, dict) else {}
    names = [str(n) for n in body.get("attributeNames") or []]
    if not names:
        names = sorted({key for row in rows for key in row}) if rows else []
    results = [[row.get(name) for name in names] for row in rows]
    return _reply(request, 200, "OK", {"attributeNames": names, "results": results})


def _reply(request: Message, status: int, description: str, body: Any) -> Message:
    return Message(
        address=request.reply_to,
        correlation_id=request.id if request.id is not None else request.correlation_id,
        properties={"statusCode": status, "statusDescription": description},
        body=body,
    )


def _router(core: RouterCore) -> Rows:
    config = core.config
    return [
        {
            "identity": core.router_id,
            "name": core.router_id,
            "id": core.router_id,
            "type": ENTITY_PREFIX + "router",
            "mode": config.router.mode,
            "area": "0",
            "version": VERSION,
            "instance": core.instance,
            "connectionCount": len(core.connections),
            "nodeCount": len(core.routing.reachable_routers()) if core.routing else 0,
            "addrCount": len(_addresses(core)),
            "linkCount": sum(_link_count(c) for c in core.connections.values()),
            "site": config.site.name,
            "namespace": config.site.namespace,
            "platform": config.site.platform,
            "tcpFlowCount": len(core.flows),
        }
    ]


def _connections(core: RouterCore) -> Rows:
    rows = []
    for conn in core.connections.values():
        engine = conn.engine
        rows.append(
            {
                "identity": str(conn.conn_id),
                "name": f"connection/{conn.peer_host}#{conn.conn_id}",
                "host": conn.peer_host,
                "role": conn.origin.role,
                "dir": "out" if conn.dialled else "in",
                "container": conn.peer_id,
                "opened": conn.opened,
                "isEncrypted": engine.ssl is not None,
                "sasl": "EXTERNAL" if engine.ssl is not None else "ANONYMOUS",
                "user": engine.peer_subject,
                "cost": conn.cost,
                "linkName": conn.origin.name,
                "operStatus": "up" if conn.opened else "down",
            }
        )
    return rows


def _connectors(core: RouterCore) -> Rows:
    return [
        {
            "identity": name,
            "name": name,
            "host": state.config.host,
            "port": str(state.config.port),
            "role": state.config.role,
            "cost": state.config.cost,
            "connectionStatus": state.status,
            "connectionMsg": state.message,
        }
        for name, state in core.connectors.items()
    ]


def _listeners(core: RouterCore) -> Rows:
    return [
        {
            "identity": name,
            "name": name,
            "host": listener.host,
            "port": str(listener.port),
            "role": listener.role,
            "cost": listener.cost,
        }
        for name, listener in core.config.listeners.items()
    ]


def _nodes(core: RouterCore) -> Rows:
    rows: Rows = []
    if core.routing is None:
        return rows
    for router, cost in sorted(core.routing.reachable_routers().items()):
        hop = core.routing.next_hop(router)
        rows.append(
            {
                "identity": router,
                "name": router,
                "id": router,
                "cost": cost,
                "nextHop": None if hop == router else hop,
                "reachable": True,
                "neighbor": router in core.neighbors,
            }
        )
    return rows


def _addresses(core: RouterCore) -> Rows:
    keys: dict[str, dict[str, Any]] = {}
    for connector in core.config.tcp_connectors.values():
        row = keys.setdefault(connector.address, _address_row(core, connector.address))
        row["subscriberCount"] += 1
    for listener in core.config.tcp_listeners.values():
        keys.setdefault(listener.address, _address_row(core, listener.address))
    return list(keys.values())


def _address_row(core: RouterCore, address: str) -> dict[str, Any]:
    remote = core.routing.routers_with_address(address) if core.routing else {}
    return {
        "identity": "M" + address,
        "name": "M" + address,
        "key": "M" + address,
        "address": address,
        "distribution": core.config.distribution(address),
        "subscriberCount": 0,
        "remoteCount": len(remote),
        "remoteHostRouters": sorted(remote),
    }


def _tcp(kind: str) -> Callable[[RouterCore], Rows]:
    def table(core: RouterCore) -> Rows:
        entities = core.config.tcp_listeners if kind == "listener" else core.config.tcp_connectors
        rows = []
        for name, entity in entities.items():
            counters = core.tcp_counters.get((kind, name))
            up = name in core.listening_tcp if kind == "listener" else True
            rows.append(
                {
                    "identity": name,
                    "name": name,
                    "host": entity.host,
                    "port": str(entity.port),
                    "address": entity.address,
                    "operStatus": "up" if up else "down",
                    "connectionsOpened": counters.connections_opened if counters else 0,
                    "connectionsClosed": counters.connections_closed if counters else 0,
                    "bytesIn": counters.bytes_in if counters else 0,
                    "bytesOut": counters.bytes_out if counters else 0,
                }
            )
        return rows

    return table


def _link_count(conn: Any) -> int:
    count = 0
    link = conn.engine.connection.link_head(0)
    while link is not None:
        count += 1
        link = link.next(0)
    return count


_ENTITIES: dict[str, Callable[[RouterCore], Rows]] = {
    "router": _router,
    "connection": _connections,
    "connector": _connectors,
    "listener": _listeners,
    "router.node": _nodes,
    "router.address": _addresses,
    "tcpListener": _tcp("listener"),
    "tcpConnector": _tcp("connector"),
}
