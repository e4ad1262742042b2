"""What one interior router knows of the others (``routing.py`` keeps it up to date): each
one's link state and mobile keys as last heard, and the routes computed from them."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from . import spf

NEVER = float("-inf")


@dataclass
class RemoteRouter:
    """What we know of another interior router."""

    last_seen: float  # last RA or LSU: its link state expires remote_ls_max_age after this
    instance: int | None = None
    ls_seq: int = 0
    peers: dict[str, int] | None = None  # its link state; None = unknown
    mobile_seq: int = 0
    keys: set[str] = field(default_factory=set)  # its mobile addresses, as hash keys
    need_lsr: bool = True  # send an LSR as soon as it is reachable
    need_mar: bool = False  # send a MAR as soon as it is reachable
    # its requests we could not answer yet (no route back): answered once it is reachable,
    # rather than dropped to wait for its next RA (up to an RA interval)
    owe_lsu: bool = False
    owe_mau: bool = False
    # The newest sequence numbers its RAs announced, and when we last sent an LSR (MAR) for
    # them: the copies of one RA that a flood brings from several neighbours ask once, and
    # a request lost on the way (a relay without a route yet) is sent again a HELLO
    # interval later rather than at its next RA.
    asked_ls: tuple[int, float] = (0, NEVER)
    asked_mobile: tuple[int, float] = (0, NEVER)


class KnownRouters:
    def __init__(self) -> None:
        self.records: dict[str, RemoteRouter] = {}
        self.next_hops: dict[str, str] = {}
        self.costs: dict[str, int] = {}  # every reachable router: the cost of the path to it
        self._graph: spf.Graph = {}
        self._router_id = ""
        self._valid_origins: dict[str, frozenset[str]] | None = {}
        self.stale = False  # the routes must be computed again
        # Routers whose record may have a request or answer to send (a superset: cheap to
        # keep, and _send_requests need not pass over every router on every message).
        self.pending: set[str] = set()
        self._unroutable: set[str] = set()  # routers with requests waiting for a route
        self.version = 0  # bumps whenever routes or remote keys change

    def learn(self, router_id: str, now: float, instance: int | None) -> RemoteRouter:
        """The record of a router, created on first sight; notices its restart."""
        node = self.records.get(router_id)
        if node is None:
            node = self.records[router_id] = RemoteRouter(last_seen=now, instance=instance)
            self.stale = True
        elif instance is not None and node.instance != instance:
            if node.instance is not None:
                self._forget_state(node)  # it restarted: its sequence numbers began again
            node.instance = instance
        self.pending.add(router_id)
        return node

    def set_keys(self, node: RemoteRouter, keys: set[str]) -> None:
        if keys != node.keys:
            node.keys = keys
            self.version += 1

    def expire(self, now: float, max_age: float, neighbours: Collection[str]) -> None:
        """Link states not refreshed for ``max_age`` leave path computation; records of
        routers no link state names any more (``neighbours``: ours) are deleted."""
        for router_id, node in list(self.records.items()):
            if now < node.last_seen + max_age:
                continue
            if node.peers is not None:
                node.ls_seq, node.peers = 0, None  # stale: keep it out of path computation
                self.stale = True
            elif not self._is_referenced(router_id, neighbours):
                del self.records[router_id]
                if node.keys:
                    self.version += 1
                self.stale = True

    def compute_routes(self, router_id: str, own_peers: dict[str, int]) -> None:
        self.stale = False
        link_states: dict[str, spf.Peers] = {router_id: own_peers}
        link_states.update((other, node.peers) for other, node in self.records.items())
        graph = spf.link_state_graph(link_states)
        prev, costs = spf.shortest_path_tree(router_id, graph)
        del costs[router_id]
        next_hops = spf.next_hops(router_id, prev)
        if next_hops != self.next_hops or costs != self.costs:
            self.version += 1
        self.next_hops, self.costs = next_hops, costs
        self._router_id, self._graph, self._valid_origins = router_id, graph, None

    def valid_origins(self, router_id: str) -> frozenset[str]:
        """Origins whose shortest path to ``router_id`` passes through us. Computed when
        asked (only management shows them): one shortest-path tree per router, which would
        cost a large network seconds on every change."""
        if self._valid_origins is None:
            routers = [self._router_id, *self.costs]
            self._valid_origins = spf.valid_origins(self._router_id, self._graph, routers)
        return self._valid_origins.get(router_id, frozenset())

    def due(
        self, routes_moved: bool, route_to: Callable[[str], str | None]
    ) -> list[tuple[str, RemoteRouter]]:
        """The routers with a request or answer to send and a route to send it on (in id
        order); the others wait, looked at again when ``routes_moved``."""
        candidates, self.pending = self.pending, set()
        if routes_moved:
            candidates |= self._unroutable
            self._unroutable = set()
        due = []
        for router_id in sorted(candidates):
            node = self.records.get(router_id)
            if node is None or not (node.need_lsr or node.need_mar or node.owe_lsu or node.owe_mau):
                continue
            if route_to(router_id) is None:
                self._unroutable.add(router_id)
            else:
                due.append((router_id, node))
        return due

    def ask_again(self, asked_before: float) -> None:
        """Flag again the LSRs and MARs sent before ``asked_before`` and not answered yet."""
        again = []
        for router_id, node in self.records.items():
            ls_seq, sent = node.asked_ls
            if NEVER < sent < asked_before and (node.peers is None or node.ls_seq < ls_seq):
                node.need_lsr = True
                again.append(router_id)
            mobile_seq, sent = node.asked_mobile
            if NEVER < sent < asked_before and node.mobile_seq < mobile_seq:
                node.need_mar = True
                again.append(router_id)
        self.pending.update(again)

    def with_key(self, key: str) -> dict[str, int]:
        """The reachable routers that have ``key``, and their costs."""
        return {
            router_id: self.costs[router_id]
            for router_id, node in self.records.items()
            if key in node.keys and router_id in self.costs
        }

    def reachable_keys(self) -> set[str]:
        return {
            key
            for router_id, node in self.records.items()
            if router_id in self.costs
            for key in node.keys
        }

    def _forget_state(self, node: RemoteRouter) -> None:
        node.ls_seq, node.peers, node.mobile_seq = 0, None, 0
        node.asked_ls = node.asked_mobile = (0, NEVER)
        node.need_lsr = node.need_mar = True
        self.set_keys(node, set())
        self.stale = True

    def _is_referenced(self, router_id: str, neighbours: Collection[str]) -> bool:
        if router_id in neighbours:
            return True
        return any(n.peers is not None and router_id in n.peers for n in self.records.values())
