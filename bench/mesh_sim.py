"""Many interior routers' routing protocol in one process, on a simulated clock.

Each router is the product's own sans-I/O ``LinkStateRouter``; this module stands in for the
router cores and the links between them: it delivers each router's SendControl commands
after a one-hop delay, the way the core does (``router/control.py``): HELLO one hop; a
flood (``_topo/0/all/...``) relayed by every router that got it from its next hop towards
the origin, never back to a router in its trace; a message to one router relayed hop by
hop along each router's own next hop. Timers fire at the deadlines the routers ask for.
No sockets, no sleeps: a simulated second of a 1,000-router network costs what its
messages cost to handle.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from skupper_podman.router import routing_messages as wire
from skupper_podman.router.routing import ControlMessage, LinkStateRouter, SendControl

Edge = frozenset[str]


@dataclass(frozen=True)
class Timers:
    """The protocol's timers (the router config's ``*Seconds`` attributes)."""

    hello_interval: float = 1.0
    hello_max_age: float = 3.0
    ra_interval: float = 30.0
    ra_interval_flux: float = 4.0
    remote_ls_max_age: float = 60.0
    spf_holddown: float = 0.1


@dataclass
class Topology:
    """Interior routers, the links between them, and what each one has attached."""

    links: set[Edge]
    addresses: dict[str, set[str]]  # router -> its local consumer addresses
    edges: dict[str, list[str]] = field(default_factory=dict)  # interior -> edge routers

    @property
    def routers(self) -> list[str]:
        return sorted(self.addresses)

    def neighbors(self) -> dict[str, set[str]]:
        adjacency: dict[str, set[str]] = {router: set() for router in self.addresses}
        for a, b in (tuple(link) for link in self.links):
            adjacency[a].add(b)
            adjacency[b].add(a)
        return adjacency


def random_mesh(size: int, degree: float, rng: random.Random) -> Topology:
    """A connected random graph of ``size`` routers with mean degree ``degree``: a random
    tree that prefers well-linked routers (as sites link to hubs), then random extra links."""
    names = [f"r{i:04d}" for i in range(size)]
    links: set[Edge] = set()
    ends: list[str] = [names[0]]  # each router once per link end: preferential attachment
    for name in names[1:]:
        peer = rng.choice(ends)
        links.add(frozenset((name, peer)))
        ends += [name, peer]
    while len(links) < size * degree / 2:
        a, b = rng.sample(names, 2)
        links.add(frozenset((a, b)))
    return Topology(links, {name: {f"svc-{name}"} for name in names})


def hub_and_spoke(size: int, hubs: int) -> Topology:
    """``hubs`` interior routers linked to each other, and ``size - hubs`` edge routers
    spread over them, each with a service of its own (an edge is only keys in its hub's
    mobile addresses: edges take no part in the link state)."""
    names = [f"hub{i:02d}" for i in range(hubs)]
    links = {frozenset(pair) for pair in itertools.combinations(names, 2)}
    edges: dict[str, list[str]] = {name: [] for name in names}
    addresses: dict[str, set[str]] = {name: set() for name in names}
    for i in range(size - hubs):
        hub = names[i % hubs]
        edges[hub].append(f"edge{i:04d}")
        addresses[hub].add(f"svc-edge{i:04d}")
    return Topology(links, addresses, edges)


@dataclass
class Delivery:
    sender: str  # the neighbour the message comes from
    to: str
    message: ControlMessage
    origin: str
    trace: tuple[str, ...]
    depth: int  # messages in the causal chain since the last timer or topology event


class MeshSim:
    """A network of LinkStateRouters joined by simulated links of one-hop ``delay``."""

    def __init__(
        self, topology: Topology, timers: Timers, *, delay: float, rng: random.Random
    ) -> None:
        self.topology = topology
        self.timers = timers
        self.delay = delay
        self.rng = rng
        self.now = 0.0
        self.up: set[Edge] = set()  # links that carry messages
        self.delivered = 0
        # router -> (when, depth, messages delivered by then) of its last route change
        self.last_change: dict[str, tuple[float, int, int]] = {}
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._timer_at: dict[str, float] = {}
        self._adjacency: dict[str, set[str]] = {r: set() for r in topology.addresses}
        self.routers: dict[str, LinkStateRouter] = {}

    # ---- building and breaking the network -------------------------------------------------

    def start(self, spread: float = 1.0) -> None:
        """Boot every router within ``spread`` seconds, then open every link."""
        for router_id in self.topology.routers:
            boot = self.rng.uniform(0.0, spread)
            self._at(boot, partial(self._boot, router_id))
        for link in sorted(self.topology.links, key=sorted):
            a, b = sorted(link)
            self._at(spread + self.rng.uniform(0.0, spread), partial(self.open, a, b))

    def open(self, a: str, b: str) -> None:
        link = frozenset((a, b))
        self.up.add(link)
        self._adjacency[a].add(b)
        self._adjacency[b].add(a)
        self._event(a, lambda r: r.control_link_opened(b, 1, self.now), 0)
        self._event(b, lambda r: r.control_link_opened(a, 1, self.now), 0)

    def cut(self, a: str, b: str, *, silent: bool) -> None:
        """The link goes: at once noticed by both ends (a closed connection), or ``silent``
        (frames stop; only HELLO's max age tells)."""
        link = frozenset((a, b))
        self.up.discard(link)
        if silent:
            return
        self._adjacency[a].discard(b)
        self._adjacency[b].discard(a)
        self._event(a, lambda r: r.control_link_lost(b, self.now), 0)
        self._event(b, lambda r: r.control_link_lost(a, self.now), 0)

    # ---- running -----------------------------------------------------------------------------

    def run_until(self, end: float) -> None:
        while self._queue and self._queue[0][0] <= end:
            when, _, action = heapq.heappop(self._queue)
            self.now = when
            action()
        self.now = max(self.now, end)

    def run_until_quiet(self, limit: float, quiet: float) -> float:
        """Run until no route changed for ``quiet`` seconds; returns the last change's time."""
        start = self.now
        while self.now < limit:
            self.run_until(self.now + quiet / 4)
            last = max((change[0] for change in self.last_change.values()), default=start)
            if self.now - last >= quiet:
                return last
        raise RuntimeError(f"routes still changing at {limit:.1f} s")

    # ---- what the routers make of it -----------------------------------------------------------

    def wrong_routes(self) -> list[str]:
        """Routers whose costs differ from the true shortest paths over the links that are up."""
        adjacency: dict[str, set[str]] = {r: set() for r in self.topology.addresses}
        for a, b in (tuple(link) for link in self.up):
            adjacency[a].add(b)
            adjacency[b].add(a)
        wrong = []
        for router_id, router in self.routers.items():
            if router.reachable_routers() != _hop_counts(router_id, adjacency):
                wrong.append(router_id)
        return wrong

    def missing_addresses(self) -> list[str]:
        """Routers that do not see every reachable router's addresses."""
        missing = []
        for router_id, router in self.routers.items():
            seen = router.remote_keys()
            for other in router.reachable_routers():
                keys = {wire.encode_mobile_address(a) for a in self.topology.addresses[other]}
                keys |= {wire.encode_edge_summary(e) for e in self.topology.edges.get(other, [])}
                if not keys <= seen:
                    missing.append(router_id)
                    break
        return missing

    # ---- the stand-in for the router cores ------------------------------------------------------

    def _boot(self, router_id: str) -> None:
        t = self.timers
        router = LinkStateRouter(
            router_id,
            instance=1,
            now=self.now,
            hello_interval=t.hello_interval,
            hello_max_age=t.hello_max_age,
            ra_interval=t.ra_interval,
            ra_interval_flux=t.ra_interval_flux,
            remote_ls_max_age=t.remote_ls_max_age,
            spf_holddown=t.spf_holddown,
        )
        self.routers[router_id] = router
        edges = self.topology.edges.get(router_id, [])
        self._event(
            router_id,
            lambda r: r.set_mobile_addresses(
                self.topology.addresses[router_id], self.now, edges=edges
            ),
            0,
        )

    def _event(self, router_id: str, call: Callable[[LinkStateRouter], None], depth: int) -> None:
        router = self.routers.get(router_id)
        if router is None:
            return  # not booted yet: the core would not have the link either
        version = router.topology_version
        call(router)
        if router.topology_version != version:
            self.last_change[router_id] = (self.now, depth, self.delivered)
        for command in router.pending_commands():
            self._send(router_id, command, router_id, (), depth + 1)
        self._arm_timer(router_id, router)

    def _arm_timer(self, router_id: str, router: LinkStateRouter) -> None:
        deadline = router.get_timer()
        if deadline is None or self._timer_at.get(router_id) == deadline:
            return
        self._timer_at[router_id] = deadline
        self._at(deadline, lambda: self._fire(router_id, deadline))

    def _fire(self, router_id: str, deadline: float) -> None:
        if self._timer_at.get(router_id) != deadline:
            return  # re-armed since
        del self._timer_at[router_id]
        self._event(router_id, lambda r: r.handle_timer(self.now), 0)

    def _send(
        self, at: str, command: SendControl, origin: str, trace: tuple[str, ...], depth: int
    ) -> None:
        targets: Iterable[str] = (
            [command.neighbor] if command.neighbor else sorted(self._adjacency[at])
        )
        trace = (*trace, at)
        for peer in targets:
            if peer in trace[:-1]:
                continue
            delivery = Delivery(at, command.to, command.message, origin, trace, depth)
            self._at(self.now + self.delay, partial(self._deliver, peer, delivery))

    def _deliver(self, router_id: str, delivery: Delivery) -> None:
        if frozenset((router_id, delivery.sender)) not in self.up:
            return  # lost with the link
        router = self.routers.get(router_id)
        if router is None:
            return
        self.delivered += 1
        to, depth = delivery.to, delivery.depth
        parts = to.split("/")
        if to.startswith("_topo/0/all/"):
            self._event(router_id, lambda r: r.receive(delivery.message, self.now), depth)
            if router.next_hop(delivery.origin) == delivery.sender:  # the core's rule
                relay = SendControl(to, None, delivery.message)
                self._send(router_id, relay, delivery.origin, delivery.trace, depth + 1)
        elif to == wire.HELLO_ADDRESS or parts[2] == router_id:
            self._event(router_id, lambda r: r.receive(delivery.message, self.now), depth)
        else:
            hop = router.next_hop(parts[2])
            if hop is not None and hop not in delivery.trace:
                relay = SendControl(to, hop, delivery.message)
                self._send(router_id, relay, delivery.origin, delivery.trace, depth + 1)

    def _at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), action))


def _hop_counts(root: str, adjacency: dict[str, set[str]]) -> dict[str, int]:
    """Breadth-first hop counts (every link costs 1): the truth routes are checked against."""
    counts = {root: 0}
    frontier = [root]
    while frontier:
        following = []
        for node in frontier:
            for peer in adjacency[node]:
                if peer not in counts:
                    counts[peer] = counts[node] + 1
                    following.append(peer)
        frontier = following
    del counts[root]
    return counts
