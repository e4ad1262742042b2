"""The network as the console shows it, made from flow records alone (one source of
truth: what any collector reads from any router), without I/O.

Sites hold routers; a LINK record belongs to the router that dialled and names (peer)
the ROUTER_ACCESS record of the router it reached; listeners and connectors belong to a
router and carry their routing key (vanAddress); a flow belongs to its listener and
names the connector that served it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from skupper_podman.console.collector import Snapshot
from skupper_podman.router.vanflow import DecodedRecord

RECENT_FLOWS = 50
SVG_SIZE = 420
HTTP_WINDOW_US = 60_000_000  # HTTP rates and latencies over the last minute


@dataclass(frozen=True)
class RouterView:
    identity: str
    name: str  # the router id, without the area
    mode: str
    site: str
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class LinkView:
    source: str  # router names
    target: str
    role: str
    cost: int
    up: bool


@dataclass(frozen=True)
class EndpointView:
    kind: str  # "listener" or "connector"
    name: str
    router: str
    site: str
    host: str
    port: str
    flows: int


@dataclass(frozen=True)
class FlowView:
    identity: str
    key: str
    listener_site: str
    connector_site: str
    bytes_in: int  # from the client
    bytes_out: int  # to the client
    seconds: float
    latency_ms: float | None
    live: bool


@dataclass(frozen=True)
class HttpView:
    """A service's HTTP requests of the last minute (BIFLOW_APP records)."""

    requests: int
    per_second: float
    statuses: dict[str, int]  # "2xx": count, ...
    methods: dict[str, int]
    latency_p50_ms: float | None
    latency_p95_ms: float | None


@dataclass
class NetworkView:
    sites: dict[str, str] = field(default_factory=dict)  # site name -> platform
    routers: list[RouterView] = field(default_factory=list)
    links: list[LinkView] = field(default_factory=list)
    services: dict[str, list[EndpointView]] = field(default_factory=dict)
    flows: list[FlowView] = field(default_factory=list)
    http: dict[str, HttpView] = field(default_factory=dict)  # routing key -> requests

    def to_dict(self) -> dict[str, Any]:
        return {
            "sites": [{"name": n, "platform": p} for n, p in sorted(self.sites.items())],
            "routers": [r.__dict__ for r in self.routers],
            "links": [link.__dict__ for link in self.links],
            "services": {k: [e.__dict__ for e in v] for k, v in sorted(self.services.items())},
            "flows": [f.__dict__ for f in self.flows],
            "http": {k: v.__dict__ for k, v in sorted(self.http.items())},
        }


def network_view(seen: Snapshot, now_us: int) -> NetworkView:
    records = seen.records
    view = NetworkView()
    site_names = {}
    for site_record in seen.of_type("SITE"):
        name = str(site_record.attributes.get("name") or site_record.identity)
        site_names[site_record.identity] = name
        view.sites[name] = str(site_record.attributes.get("platform") or "")
    routers: dict[str, RouterView] = {}
    for router_record in seen.of_type("ROUTER"):
        a = router_record.attributes
        site = site_names.get(str(a.get("parent")), "")
        name = str(a.get("name") or router_record.identity).split("/", 1)[-1]
        identity = router_record.identity
        routers[identity] = RouterView(identity, name, str(a.get("mode", "")), site)
        if not site:
            view.sites.setdefault(name, "")  # a router without a site record stands for one
    view.routers = _placed(sorted(routers.values(), key=lambda r: r.name))
    by_identity = {r.identity: r for r in view.routers}
    for link in seen.of_type("LINK"):
        a = link.attributes
        source = by_identity.get(str(a.get("parent")))
        access = records.get(str(a.get("peer")))
        target = by_identity.get(str(access.attributes.get("parent"))) if access else None
        if source is None or target is None:
            continue
        up = a.get("operStatus") == "up" and not a.get("endTime")
        cost = int(a.get("linkCost") or 1)
        view.links.append(LinkView(source.name, target.name, str(a.get("role", "")), cost, up))
    endpoints: dict[str, EndpointView] = {}
    for kind in ("LISTENER", "CONNECTOR"):
        for record in seen.of_type(kind):
            a = record.attributes
            if a.get("endTime"):
                continue
            router = by_identity.get(str(a.get("parent")))
            endpoint = EndpointView(
                kind.lower(),
                str(a.get("name", "")),
                router.name if router else "?",
                _site_of(router),
                str(a.get("destHost", "")),
                str(a.get("destPort", "")),
                int(a.get("flowCountL4") or 0),
            )
            endpoints[record.identity] = endpoint
            view.services.setdefault(str(a.get("vanAddress", "")), []).append(endpoint)
    view.flows = _flows(seen, records, endpoints, now_us)
    view.http = _http(seen, records, now_us)
    return view


def _http(seen: Snapshot, records: dict[str, DecodedRecord], now_us: int) -> dict[str, HttpView]:
    """Per routing key: the requests that started in the last minute."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for record in seen.of_type("BIFLOW_APP"):
        a = record.attributes
        if int(a.get("startTime") or 0) < now_us - HTTP_WINDOW_US:
            continue
        flow = records.get(str(a.get("parent")))
        listener = records.get(str(flow.attributes.get("parent"))) if flow else None
        if listener is not None:
            by_key.setdefault(str(listener.attributes.get("vanAddress", "")), []).append(a)
    views = {}
    for key, requests in by_key.items():
        statuses: dict[str, int] = {}
        methods: dict[str, int] = {}
        for a in requests:
            result = str(a.get("result") or "")
            status = f"{result[0]}xx" if result[:1].isdigit() else "none"
            statuses[status] = statuses.get(status, 0) + 1
            methods[str(a.get("method"))] = methods.get(str(a.get("method")), 0) + 1
        latencies = sorted(int(a["latency"]) / 1000 for a in requests if "latency" in a)
        views[key] = HttpView(
            len(requests),
            round(len(requests) / (HTTP_WINDOW_US / 1e6), 2),
            dict(sorted(statuses.items())),
            dict(sorted(methods.items())),
            _percentile(latencies, 0.5),
            _percentile(latencies, 0.95),
        )
    return views


def _percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of sorted ``values``."""
    if not values:
        return None
    return round(values[min(len(values) - 1, math.ceil(fraction * len(values)) - 1)], 3)


def _flows(
    seen: Snapshot,
    records: dict[str, DecodedRecord],
    endpoints: dict[str, EndpointView],
    now_us: int,
) -> list[FlowView]:
    flows = []
    for record in seen.of_type("BIFLOW_TPORT"):
        a = record.attributes
        listener = endpoints.get(str(a.get("parent")))
        connector = endpoints.get(str(a.get("connector")))
        parent = records.get(str(a.get("parent")))
        start = int(a.get("startTime") or now_us)
        end = int(a.get("endTime") or 0)
        latency = a.get("latency")
        flows.append(
            FlowView(
                record.identity,
                str(parent.attributes.get("vanAddress", "")) if parent else "",
                listener.site if listener else "",
                connector.site if connector else "",
                int(a.get("octets") or 0),
                int(a.get("octetsReverse") or 0),
                round(((end or now_us) - start) / 1e6, 3),
                None if latency is None else round(int(latency) / 1000, 3),
                not end,
            )
        )
    live = [f for f in flows if f.live]
    ended = sorted((f for f in flows if not f.live), key=lambda f: f.identity)[-RECENT_FLOWS:]
    return live + ended


def _site_of(router: RouterView | None) -> str:
    return (router.site or router.name) if router else ""


def _placed(routers: list[RouterView]) -> list[RouterView]:
    """Routers on a circle, in name order: the same picture for the same network."""
    count = max(len(routers), 1)
    radius = SVG_SIZE * 0.36 if count > 1 else 0.0
    centre = SVG_SIZE / 2
    placed = []
    for index, router in enumerate(routers):
        angle = 2 * math.pi * index / count - math.pi / 2
        x = round(centre + radius * math.cos(angle), 1)
        y = round(centre + radius * math.sin(angle), 1)
        placed.append(RouterView(router.identity, router.name, router.mode, router.site, x, y))
    return placed
