"""Where a delivery for a routing key can go, and which of those places it goes to.

Destinations of a mobile address (a routing key): tcpConnectors on this router, edge
routers attached to this interior that consume it, other interior routers (from the
routing protocol), or, on an edge router, the uplink when the interior reports the
address reachable. ``balanced`` picks the fewest outstanding flows plus cost (a local
connector costs 0, so it wins when idle); ``closest`` rotates among the least-cost ones.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

DestinationKind = Literal["local", "router", "edge", "uplink"]


class Destination(NamedTuple):
    kind: DestinationKind
    name: str  # connector name, router id, edge router id, or "" for the uplink


@dataclass
class AddressTable:
    """The consumers this router knows for each address, and flows in progress to each."""

    local: dict[str, list[str]] = field(default_factory=dict)  # address -> connector names
    edges: dict[str, set[str]] = field(default_factory=dict)  # address -> edge router ids
    uplink: set[str] = field(default_factory=set)  # edge mode: addresses reachable upstream
    outstanding: Counter[Destination] = field(default_factory=Counter)
    _rotation: itertools.count[int] = field(default_factory=itertools.count)

    def set_local(self, connectors: Iterable[tuple[str, str]]) -> None:
        """(name, address) of every tcpConnector of this router."""
        self.local = {}
        for name, address in connectors:
            self.local.setdefault(address, []).append(name)

    def add_edge_consumer(self, address: str, edge_id: str) -> None:
        self.edges.setdefault(address, set()).add(edge_id)

    def consumer_addresses(self) -> set[str]:
        """What this router advertises to the network: local and edge consumers."""
        return set(self.local) | set(self.edges)

    def choose(
        self,
        address: str,
        *,
        remote: dict[str, int],
        closest: bool,
        exclude: Callable[[Destination], bool] = lambda d: False,
    ) -> Destination | None:
        """Pick a destination for one new flow; ``remote`` is router id -> path cost."""
        candidates: list[tuple[Destination, int]] = []
        for name in self.local.get(address, ()):
            candidates.append((Destination("local", name), 0))
        for edge_id in sorted(self.edges.get(address, ())):
            candidates.append((Destination("edge", edge_id), 1))
        for router_id, cost in remote.items():
            candidates.append((Destination("router", router_id), cost))
        if address in self.uplink:
            candidates.append((Destination("uplink", ""), 1))
        candidates = [(d, cost) for d, cost in candidates if not exclude(d)]
        if len(candidates) <= 1:
            return candidates[0][0] if candidates else None
        if closest:
            scores = [(cost, d) for d, cost in candidates]
        else:
            scores = [(self.outstanding[d] + cost, d) for d, cost in candidates]
        best = min(score for score, _ in scores)
        ties = sorted(d for score, d in scores if score == best)
        return ties[next(self._rotation) % len(ties)]  # equal scores take turns

    def flow_started(self, destination: Destination) -> None:
        self.outstanding[destination] += 1

    def flow_ended(self, destination: Destination) -> None:
        self.outstanding[destination] -= 1
        if self.outstanding[destination] <= 0:
            del self.outstanding[destination]
