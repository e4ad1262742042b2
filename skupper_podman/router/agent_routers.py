"""Management entities of this router and the network it sees: router, routerMetrics,
network, site, router.node and router.address, as skupper-router names them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import VERSION, listener_keys
from . import routing_messages as wire
from .agent_links import Row, all_links, named

if TYPE_CHECKING:
    from .view import RouterView

# --- the router --------------------------------------------------------------------------------


def router(view: RouterView) -> list[Row]:
    config, settings = view.config, view.config.router
    return [
        named(
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
            nodeCount=node_count(view),
            tcpFlowCount=len(view.tcp.flows),
        )
    ]


def router_metrics(view: RouterView) -> list[Row]:
    info = view.process_info()
    counts = view.deliveries
    amqp = sum(1 for c in view.connections.values() if c.origin.role == "normal")
    return [
        named(
            "routerMetrics",
            "1",
            id=view.router_id,
            version=VERSION,
            uptimeSeconds=int(view.now - view.started_at),
            memoryUsage=info.get("memoryUsage"),
            residentMemoryUsage=info.get("residentMemoryUsage"),
            addrCount=len(addresses(view)),
            linkCount=sum(1 for _ in all_links(view)),
            nodeCount=node_count(view),
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


def network(view: RouterView) -> list[Row]:
    return [named("network", "network/0", name="network/0", networkId=None, tenantId=None)]


def site(view: RouterView) -> list[Row]:
    site = view.config.site
    if not site.name:
        return []
    return [
        named(
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


def node_count(view: RouterView) -> int:
    return len(view.fabric.routing.reachable_routers()) if view.fabric.routing else 0


# --- routers and addresses ----------------------------------------------------------------------


def nodes(view: RouterView) -> list[Row]:
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
    return named(
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


def addresses(view: RouterView) -> list[Row]:
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
        named(
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
