"""Path computation for the interior routing protocol: graph, Dijkstra, next hops, valid origins.

Pure functions over link states (router id -> {neighbour id: cost}); ``routing.py`` feeds them
the link states it has collected and publishes the results to the router core. Every router
runs the same computation on the same data, so the tie-breaking rules here decide which of
several equal-cost paths the whole network uses: nodes are settled in (cost, router id) order
and a path is only replaced by a strictly cheaper one, so among equal-cost paths the one
through the predecessor with the lowest router id wins (skupper-router's ``NodeSet`` order).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

#: A router's reported neighbours and link costs; None when its link state is unknown.
Peers = Mapping[str, int] | None
Graph = dict[str, dict[str, int]]


def link_state_graph(link_states: Mapping[str, Peers]) -> Graph:
    """The directed graph of the links every router reports in its own link state.

    As skupper-router computes it: a router's links are followed as that router reports
    them (its peers are the neighbours its HELLOs proved two-way), never as another router
    does. So a stale link state of a far router cannot hide a path that its neighbours
    already report: the path to it is what lets us ask for its new link state.
    A router whose link state is unknown (never received, dropped on restart or expiry) is
    given links back to the routers that report it, so paths through it can be computed
    until its own link state arrives.
    """
    graph: Graph = {}
    for node, peers in link_states.items():
        if peers is not None:
            graph[node] = {peer: cost for peer, cost in peers.items() if peer != node}
    for node, peers in list(graph.items()):
        for peer, cost in peers.items():
            if link_states.get(peer) is None:
                graph.setdefault(peer, {})[node] = cost
    return graph


def shortest_path_tree(root: str, graph: Graph) -> tuple[dict[str, str], dict[str, int]]:
    """Dijkstra from ``root``: (predecessor of every reachable router, cost of every router).

    ``cost`` includes ``root`` itself at 0; ``prev`` holds only routers other than ``root``.
    """
    cost: dict[str, int] = {root: 0}
    prev: dict[str, str] = {}
    settled: set[str] = set()
    queue: list[tuple[int, str]] = [(0, root)]
    while queue:
        node_cost, node = heapq.heappop(queue)
        if node in settled:
            continue  # a stale queue entry; the node was settled at a lower cost
        settled.add(node)
        for peer, link_cost in graph.get(node, {}).items():
            alt = node_cost + link_cost
            if peer not in settled and (peer not in cost or alt < cost[peer]):
                cost[peer] = alt
                prev[peer] = node
                heapq.heappush(queue, (alt, peer))
    return prev, cost


def next_hops(root: str, prev: Mapping[str, str]) -> dict[str, str]:
    """The neighbour of ``root`` on the path to every router in the tree ``prev``."""
    hops: dict[str, str] = {}
    for dest in prev:
        path = [dest]
        while prev[path[-1]] != root and path[-1] not in hops:
            path.append(prev[path[-1]])
        hop = hops.get(path[-1], path[-1])
        for node in path:
            hops[node] = hop
    return hops


def valid_origins(me: str, graph: Graph, routers: list[str]) -> dict[str, frozenset[str]]:
    """For every destination: the origins whose shortest path to it passes through ``me``.

    The core uses this for multicast loop prevention: a multicast from origin O is forwarded
    towards destination D only if O is in D's valid origins (skupper-router's semantics).
    """
    origins: dict[str, set[str]] = {dest: set() for dest in routers if dest != me}
    for origin in routers:
        if origin == me:
            continue
        prev, _ = shortest_path_tree(origin, graph)
        for dest in prev:
            if dest != me and dest in origins and _passes_through(prev, origin, dest, me):
                origins[dest].add(origin)
    return {dest: frozenset(found) for dest, found in origins.items()}


def _passes_through(prev: Mapping[str, str], origin: str, dest: str, via: str) -> bool:
    node = prev[dest]
    while node != origin:
        if node == via:
            return True
        node = prev[node]
    return False
