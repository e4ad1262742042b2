"""Per service (routing key) figures for Prometheus: how many flows clients opened here
and how long each waited for the first byte of its reply, as a histogram; and the HTTP
requests observed on them."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# methods counted by name; any other is counted as "other" (labels stay few)
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
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
class HttpService:
    """One routing key's observed HTTP requests: counts by method and status class, body
    bytes each way, and a histogram of their latency (request head to response head)."""

    requests: dict[tuple[str, int], int] = field(default_factory=dict)  # (method, status//100)
    request_octets: int = 0
    response_octets: int = 0
    latency: Histogram = field(default_factory=Histogram)

    def exchange_ended(
        self, method: str, status: int, latency: float | None, octets: int, octets_reverse: int
    ) -> None:
        key = (method if method in METHODS else "other", status // 100)
        self.requests[key] = self.requests.get(key, 0) + 1
        self.request_octets += octets
        self.response_octets += octets_reverse
        if latency is not None:
            self.latency.observe(latency)


@dataclass
class HttpMetrics:
    services: dict[str, HttpService] = field(default_factory=dict)

    def service(self, address: str) -> HttpService:
        found = self.services.get(address)
        if found is None:
            found = self.services[address] = HttpService()
        return found

    @property
    def requests(self) -> dict[tuple[str, str, str], int]:
        """(routing key, method, status class: "2xx"..., "none" unanswered): count."""
        return {
            (address, method, f"{status}xx" if status else "none"): count
            for address, service in self.services.items()
            for (method, status), count in service.requests.items()
        }

    @property
    def octets(self) -> dict[tuple[str, str], int]:
        """(routing key, "request" or "response"): body bytes."""
        found = {}
        for address, service in self.services.items():
            found[(address, "request")] = service.request_octets
            found[(address, "response")] = service.response_octets
        return found

    @property
    def latency(self) -> dict[str, Histogram]:
        return {address: service.latency for address, service in self.services.items()}


@dataclass
class ServiceMetrics:
    flows: dict[str, int] = field(default_factory=dict)  # routing key -> flows ended
    latency: dict[str, Histogram] = field(default_factory=dict)  # replied flows only
    http: HttpMetrics = field(default_factory=HttpMetrics)

    def flow_ended(self, address: str, reply_latency: float | None) -> None:
        self.flows[address] = self.flows.get(address, 0) + 1
        if reply_latency is not None:
            self.latency.setdefault(address, Histogram()).observe(reply_latency)
