"""The network as a tree seen from this site's router: each router under the one it is
reached through, its links' state and cost, and the routing keys it listens and
connects for. Links that close a cycle are listed under the tree."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from rich.tree import Tree

from skupper_podman.site.network import NetworkLink, NetworkRouter, NetworkStatus


def _label(router: NetworkRouter) -> str:
    kind = ", ".join(part for part in (router.mode, router.platform, router.product) if part)
    name = router.site or router.id
    shown = name if name == router.id else f"{name} (router {router.id})"
    unreachable = " [unreachable]" if not router.reachable else ""
    here = " [this site]" if router.local else ""
    return f"{shown}: {kind}{here}{unreachable}"


def _services(network: NetworkStatus, router_id: str) -> list[str]:
    lines = []
    for key in network.routing_keys:
        roles = [
            role
            for role, routers in (("listens", key.listeners), ("connects", key.connectors))
            if router_id in routers
        ]
        if roles:
            lines.append(f"{' and '.join(roles)} for {key.key}")
    return lines


def _link_text(link: NetworkLink) -> str:
    return f"{link.role} link ({link.state}, cost {link.cost})"


def topology(network: NetworkStatus) -> Tree:
    routers = {r.id: r for r in network.routers}
    root_router = next((r for r in network.routers if r.local), None)
    if root_router is None:
        return Tree(Text("no router answered"))
    neighbours: dict[str, list[tuple[str, NetworkLink]]] = {r: [] for r in routers}
    for link in network.links:
        for a, b in ((link.source, link.target), (link.target, link.source)):
            neighbours.setdefault(a, []).append((b, link))
    tree = Tree(Text(_label(root_router)))
    nodes = {root_router.id: tree}
    used: set[int] = set()
    queue = deque([root_router.id])
    while queue:
        current = queue.popleft()
        node = nodes[current]
        for service in _services(network, current):
            node.add(Text(service), style="dim")
        for other, link in sorted(neighbours.get(current, []), key=lambda pair: pair[0]):
            if other in nodes:
                continue
            used.add(id(link))
            router = routers.get(other)
            label = _label(router) if router is not None else other
            nodes[other] = node.add(Text(f"{_link_text(link)} to {label}"))
            queue.append(other)
    for router in network.routers:
        if router.id not in nodes:
            nodes[router.id] = tree.add(Text(f"not linked in this view: {_label(router)}"))
    others = [link for link in network.links if id(link) not in used]
    if others:
        extra = tree.add(Text("other links"))
        for link in others:
            extra.add(Text(f"{link.source} - {link.target}: {_link_text(link)}"))
    return tree
