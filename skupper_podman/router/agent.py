"""The $management agent: AMQP management requests answered from the router's state.

Entity types and their attributes are skupper-router's (``io.skupper.router.<type>``,
its ``skrouter.json`` schema), so the reference's own tools work against our router:
``skstat`` (-g router, -c connections, -l links, -n nodes, -a addresses) and ``skmanage
query``. Attributes we do not track answer as skupper-router's defaults (mostly zero
counters). Operations: QUERY (with offset and count), READ, and the node operations
GET-MGMT-NODES, GET-TYPES, GET-ATTRIBUTES, GET-OPERATIONS. The configuration changes
only through the config file: CREATE, UPDATE and DELETE are refused. The entities' rows
are built in ``agent_routers.py`` and ``agent_links.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proton import Message

from .agent_links import (
    ENTITY_PREFIX,
    Table,
    connections,
    connectors,
    links,
    listeners,
    tcp,
    tcp_connections,
)
from .agent_routers import addresses, network, nodes, router, router_metrics, site

if TYPE_CHECKING:
    from .view import RouterView

PREFIXES = (ENTITY_PREFIX, "org.apache.qpid.dispatch.")
MANAGEMENT_NODE_TYPE = "org.amqp.management"


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


_ENTITIES: dict[str, Table] = {
    "router": router,
    "routerMetrics": router_metrics,
    "network": network,
    "site": site,
    "connection": connections,
    "router.link": links,
    "router.node": nodes,
    "router.address": addresses,
    "listener": listeners,
    "connector": connectors,
    "tcpListener": tcp("listener"),
    "tcpConnector": tcp("connector"),
    "tcpConnection": tcp_connections,
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
