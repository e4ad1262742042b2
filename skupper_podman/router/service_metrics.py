"""Per service (routing key) figures for Prometheus: how many flows clients opened here
and how long each waited for the first byte of its reply, as a histogram."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# seconds, as Prometheus' default buckets
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count) as Prometheus writes a histogram's buckets, +Inf last."""
        rows, running = [], 0
        for bound, count in zip((*[repr(b) for b in BUCKETS], "+Inf"), self.counts, strict=True):
            running += count
            rows.append((bound, running))
        return rows


@dataclass
class ServiceMetrics:
    flows: dict[str, int] = field(default_factory=dict)  # routing key -> flows ended
    latency: dict[str, Histogram] = field(default_factory=dict)  # replied flows only

    def flow_ended(self, address: str, reply_latency: float | None) -> None:
        self.flows[address] = self.flows.get(address, 0) + 1
        if reply_latency is not None:
            self.latency.setdefault(address, Histogram()).observe(reply_latency)
