"""The whole application network as seen from one site: every router, link and routing key.

Starting at the site's own router, every router found is asked over AMQP management
(the requests are routed through the network to ``_topo/0/<id>/$management`` or
``_edge/<id>/$management``): its identity, its router links, its tcpListeners and
tcpConnectors. Its links name further routers to ask, until none are new.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from skupper_podman.errors import SkupperError
from skupper_podman.management import ManagementClient, agent_address
from skupper_podman.site.migration import open_site
from skupper_podman.site.runtime import management_client

ROUTER_ROLES = ("inter-router", "edge")


@dataclass(frozen=True)
class NetworkRouter:
    id: str
    mode: str
    site: str
    namespace: str
    platform: str
    version: str
    local: bool
    reachable: bool = True
    product: str = ""  # skupper-podman, or skupper-router for a Skupper site's own router


@dataclass(frozen=True)
class NetworkLink:
    source: str  # the router that dialled
    target: str
    role: str
    cost: int
    state: str


@dataclass
class RoutingKey:
    key: str
    listeners: list[str] = field(default_factory=list)  # router ids with a tcpListener
    connectors: list[str] = field(default_factory=list)  # router ids with a tcpConnector


@dataclass
class NetworkStatus:
    routers: list[NetworkRouter]
    links: list[NetworkLink]
    routing_keys: list[RoutingKey]

    def to_dict(self) -> dict[str, Any]:
        return {
            "routers": [asdict(r) for r in self.routers],
            "links": [asdict(link) for link in self.links],
            "routingKeys": [asdict(k) for k in self.routing_keys],
        }


def network_status(namespace: str) -> NetworkStatus:
    store = open_site(namespace)
    with management_client(store) as client:
        local = client.query("router")[0]
        local_id = str(local["id"])
        pending: list[tuple[str, bool]] = [(local_id, local.get("mode") == "edge")]
        seen: set[str] = {local_id}
        routers: list[NetworkRouter] = []
        links: dict[tuple[str, str], NetworkLink] = {}
        keys: dict[str, RoutingKey] = {}
        versions: dict[str, str] = {}  # router id -> version, from its Open properties
        while pending:
            router_id, edge = pending.pop(0)
            agent = None if router_id == local_id else agent_address(router_id, edge=edge)
            try:
                found = _survey(client, router_id, agent, keys, links, versions)
            except SkupperError:
                routers.append(
                    NetworkRouter(
                        router_id,
                        "edge" if edge else "interior",
                        "",
                        "",
                        "",
                        "",
                        router_id == local_id,
                        False,
                    )
                )
                continue
            routers.append(found[0])
            for peer, peer_is_edge in found[1]:
                if peer not in seen:
                    seen.add(peer)
                    pending.append((peer, peer_is_edge))
    return NetworkStatus(
        sorted(routers, key=lambda r: (not r.local, r.id)),
        sorted(links.values(), key=lambda link: (link.source, link.target)),
        sorted(keys.values(), key=lambda k: k.key),
    )


SKUPPER_ROUTER = "skupper-router"


def _site_entity(client: ManagementClient, agent: str | None) -> dict[str, Any]:
    """A skupper-router's site entity (Skupper configures one), as router attributes."""
    try:
        rows = client.query("site", agent=agent)
    except SkupperError:
        return {}  # a router configured without one answers "unknown entity type"
    if not rows:
        return {}
    row = rows[0]
    return {
        "site": row.get("name"),
        "namespace": row.get("namespace"),
        "platform": row.get("platform"),
    }


def _survey(
    client: ManagementClient,
    router_id: str,
    agent: str | None,
    keys: dict[str, RoutingKey],
    links: dict[tuple[str, str], NetworkLink],
    versions: dict[str, str],
) -> tuple[NetworkRouter, list[tuple[str, bool]]]:
    """Ask one router about itself; returns it and the routers its links lead to."""
    info = client.query("router", agent=agent)[0]
    product = str(info.get("product") or SKUPPER_ROUTER)
    if product == SKUPPER_ROUTER:  # its router entity says less: ask for its site entity
        info = _site_entity(client, agent) | info
        # its version is in the Open properties its neighbours saw (routerMetrics has it
        # under an empty attribute name in skupper-router 3.0)
        info["version"] = info.get("version") or versions.get(router_id, "")
    router = NetworkRouter(
        id=router_id,
        mode=str(info.get("mode", "")),
        site=str(info.get("site") or ""),
        namespace=str(info.get("namespace") or ""),
        platform=str(info.get("platform") or ""),
        version=str(info.get("version") or ""),
        local=agent is None,
        product=product,
    )
    peers: list[tuple[str, bool]] = []
    for conn in client.query("connection", agent=agent):
        role, peer = str(conn.get("role", "")), str(conn.get("container", ""))
        if role not in ROUTER_ROLES or not peer:
            continue
        properties = conn.get("properties") or {}
        if isinstance(properties, dict) and properties.get("version"):
            versions.setdefault(peer, str(properties["version"]))
        dialled = conn.get("dir") == "out"
        source, target = (router_id, peer) if dialled else (peer, router_id)
        links[(source, target)] = NetworkLink(
            source,
            target,
            role,
            int(conn.get("cost") or 1),
            "up" if conn.get("opened") else "down",
        )
        # an interior sees its edges as incoming "edge" connections
        peers.append((peer, role == "edge" and not dialled))
    for kind, attribute in (("tcpListener", "listeners"), ("tcpConnector", "connectors")):
        for row in client.query(kind, agent=agent):
            key = keys.setdefault(str(row["address"]), RoutingKey(str(row["address"])))
            where: list[str] = getattr(key, attribute)
            if router_id not in where:
                where.append(router_id)
    return router, peers
