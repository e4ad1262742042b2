"""Where things are, from this router: its neighbours, the edges attached to it, its uplink
(an edge's), the link-state routes and the address table; and the choices made from them
(where a new flow goes, which connection leads to a router or an address).

It holds no socket and sends nothing: the core changes it as connections come and go,
and the TCP side, the control messages and management read it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Collection
from dataclasses import replace

from proton import Link

from .addressing import AddressTable, Destination
from .config import RouterConfig
from .connection import RouterConnection
from .message import RouterAnnotations
from .routing import LinkStateRouter


class Fabric:
    def __init__(self, config: RouterConfig, *, instance: int, now: float) -> None:
        self.config = config
        self.router_id = config.router.id
        self.edge_mode = config.router.mode == "edge"
        self.addresses = AddressTable()
        self.neighbors: dict[str, RouterConnection] = {}  # interior: router id -> connection
        self.edge_connections: dict[str, RouterConnection] = {}  # interior: attached edges
        self.uplink: RouterConnection | None = None  # edge: the active uplink
        # addresses of links attached here (management replies, a client's dynamic link)
        self.endpoint_links: dict[str, tuple[int, Link]] = {}
        self.subscribed: set[str] = set()  # addresses clients (or the router) subscribe to here
        self.routing: LinkStateRouter | None = None
        if not self.edge_mode:
            router = config.router
            self.routing = LinkStateRouter(
                self.router_id,
                instance=instance,
                now=now,
                hello_interval=router.helloIntervalSeconds,
                hello_max_age=router.helloMaxAgeSeconds,
                ra_interval=router.raIntervalSeconds,
                ra_interval_flux=router.raIntervalFluxSeconds,
                remote_ls_max_age=router.remoteLsMaxAgeSeconds,
            )
        # the routing version listeners and edge tracking were last checked against; -1
        # when something else reachability depends on changed
        self.topology_version = -1
        self._temp_ids = itertools.count(1)
        self._two_way: set[str] = set()  # neighbours the routing protocol saw both ways
        self._routes: dict[str, tuple[str, int]] = {}  # as last told: router -> (hop, cost)

    def route_changes(self) -> list[str]:
        """What changed in the routes to other routers since the last call, in words."""
        if self.routing is None:
            return []
        routes = {
            router_id: (self.routing.next_hop(router_id) or router_id, cost)
            for router_id, cost in self.routing.reachable_routers().items()
        }
        changes = [f"router {r} unreachable" for r in sorted(self._routes.keys() - routes.keys())]
        for router_id, (hop, cost) in sorted(routes.items()):
            if self._routes.get(router_id) != (hop, cost):
                via = "direct" if hop == router_id else f"via {hop}"
                changes.append(f"router {router_id} {via}, cost {cost}")
        self._routes = routes
        return changes

    def silent_neighbors(self) -> list[RouterConnection]:
        """Neighbours seen both ways before whose HELLOs have stopped since the last call."""
        if self.routing is None:
            return []
        two_way = self.routing.neighbors()
        silent = [self.neighbors[p] for p in self._two_way - two_way if p in self.neighbors]
        self._two_way = two_way
        return silent

    def reset_topology(self) -> None:
        """Something reachability depends on changed: re-check listeners and edge tracking."""
        self.topology_version = -1

    def outgoing_annotations(self, received: RouterAnnotations) -> RouterAnnotations:
        """The annotations a message leaves this router with, composed as skupper-router
        composes them: an interior keeps the ingress (or becomes it) and adds itself to
        the trace; an edge sends neither. (The same few come by again and again: the
        paths of the network, and a new stream's own.)"""
        return _outgoing(received, self.router_id, self.edge_mode)

    def reply_address(self) -> str:
        """A new address of this router's own, for a reply stream."""
        prefix = "_edge" if self.edge_mode else "_topo/0"
        return f"{prefix}/{self.router_id}/temp.{next(self._temp_ids)}"

    def is_local_address(self, address: str) -> bool:
        prefix = "_edge" if self.edge_mode else "_topo/0"
        return address.startswith(f"{prefix}/{self.router_id}/")

    # --- destinations ----------------------------------------------------------------------

    def choose_destination(
        self,
        address: str,
        exclude: tuple[str, ...] = (),
        from_edge: str = "",
        avoid: Collection[object] = (),
    ) -> Destination | None:
        """Where a new flow for ``address`` goes (balanced or closest), None if nowhere.

        ``exclude``: routers already on the delivery's trace, which it must neither go to
        nor through (a loop while routes change);
        ``from_edge``: the edge it came from, which must not get it back;
        ``avoid``: destinations that released the flow already.
        """
        remote: dict[str, int] = {}
        routing = self.routing
        if routing is not None:
            remote = {
                router: cost
                for router, cost in routing.routers_with_address(address).items()
                if router not in exclude
                and (hop := routing.next_hop(router)) in self.neighbors
                and hop not in exclude
            }
        return self.addresses.choose(
            address,
            remote=remote,
            closest=self.config.distribution(address) == "closest",
            exclude=lambda d: (
                (d.kind == "edge" and d.name == from_edge)
                or (d.kind == "uplink" and self.uplink is None)
                or d in avoid
            ),
        )

    def reachable(self, address: str, *, excluding_edge: str = "") -> bool:
        return self.choose_destination(address, from_edge=excluding_edge) is not None

    def connection_for(self, destination: Destination) -> RouterConnection | None:
        if destination.kind == "uplink":
            return self.uplink
        if destination.kind == "edge":
            return self.edge_connections.get(destination.name)
        if destination.kind == "router" and self.routing is not None:
            return self.neighbors.get(self.routing.next_hop(destination.name) or "")
        return None

    def route_to_address(self, address: str) -> tuple[RouterConnection, str] | None:
        """The connection toward a topological or edge address, and the router it names."""
        parts = address.split("/", 3)
        if len(parts) < 3 or parts[0] not in ("_topo", "_edge"):
            return None
        # _topo/<area>/<router>/... and _edge/<edge router>/...
        router = parts[1] if parts[0] == "_edge" else parts[2]
        if parts[0] == "_topo" and (parts[1] != "0" or router == "all"):
            return None
        if router == self.router_id:
            return None
        if self.edge_mode:
            return (self.uplink, router) if self.uplink is not None else None
        if parts[0] == "_edge" and router in self.edge_connections:
            return self.edge_connections[router], router
        assert self.routing is not None
        target = router
        if parts[0] == "_edge":
            hosts = self.routing.routers_with_edge(router)
            if not hosts:
                return None
            target = min(hosts, key=lambda r: (hosts[r], r))
        hop = self.routing.next_hop(target)
        conn = self.neighbors.get(hop or "")
        return (conn, target) if conn is not None else None

    def uplink_address_changed(self, address: str, reachable: bool) -> None:
        if reachable:
            self.addresses.uplink.add(address)
        else:
            self.addresses.uplink.discard(address)
        self.reset_topology()

    def router_id_clash(self, conn: RouterConnection) -> str:
        """Why a router linking here cannot be told apart from one already known (two
        sites with one name), or "" when it can. A restarted router keeps its link
        credential and takes its old connection's place; another site with the same
        name comes with another certificate and is refused."""
        peer = conn.peer_id
        if peer == self.router_id:
            return f"router id {peer} is this router's own: two sites have the name {peer}"
        for other in (self.neighbors.get(peer), self.edge_connections.get(peer)):
            if other is None or other is conn or other.closed:
                continue
            if other.engine.peer_fingerprint != conn.engine.peer_fingerprint:
                return (
                    f"a router with id {peer} is already linked here with another "
                    f"certificate: two sites have the name {peer}; rename one"
                )
        return ""


@functools.lru_cache(maxsize=1024)
def _outgoing(received: RouterAnnotations, router_id: str, edge_mode: bool) -> RouterAnnotations:
    if edge_mode:
        return replace(received, ingress=None, trace=())
    ingress = received.ingress or router_id
    return replace(received, ingress=ingress, trace=(*received.trace, router_id))
