"""Prometheus text exposition of the router's counters (served on loopback only).

``render`` is pure: it reads the router's view (view.py) and returns the text of one scrape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .service_metrics import Histogram

if TYPE_CHECKING:
    from .view import RouterView

_PREFIX = "skupper_router"


def render(view: RouterView) -> str:
    lines: list[str] = []
    router = f'router="{_escape(view.router_id)}"'
    _family(
        lines,
        "routers_known",
        "gauge",
        "Routers reachable from this one (itself included).",
        [
            (
                router,
                1 + (len(view.fabric.routing.reachable_routers()) if view.fabric.routing else 0),
            )
        ],
    )
    _family(
        lines,
        "tcp_flows_active",
        "gauge",
        "TCP flows in progress.",
        [(router, len(view.tcp.flows))],
    )
    for kind, label in (("listener", "tcp_listener"), ("connector", "tcp_connector")):
        entities = view.config.tcp_listeners if kind == "listener" else view.config.tcp_connectors
        rows = []
        for name, entity in entities.items():
            counters = view.tcp.counters.get((kind, name))
            labels = f'{router},{label}="{_escape(name)}",address="{_escape(entity.address)}"'
            rows.append((labels, counters))
        for metric, attribute, help_text in (
            ("connections_opened_total", "connections_opened", "TCP connections opened."),
            ("connections_closed_total", "connections_closed", "TCP connections closed."),
            ("bytes_in_total", "bytes_in", "Bytes read from the TCP sockets."),
            ("bytes_out_total", "bytes_out", "Bytes written to the TCP sockets."),
            (
                "connections_failed_total",
                "failed",
                "TCP connections refused: a TLS handshake failed or the backend was unreachable.",
            ),
        ):
            _family(
                lines,
                f"{label}_{metric}",
                "counter",
                help_text,
                [(labels, getattr(c, attribute) if c else 0) for labels, c in rows],
            )
    backends = [
        (f'{router},tcp_connector="{_escape(name)}"', 1 if view.tcp.health.is_up(name) else 0)
        for name in view.config.tcp_connectors
    ]
    _family(
        lines,
        "tcp_connector_backend_up",
        "gauge",
        "1 while the connector is in rotation; 0 while its backend is unreachable and probed.",
        backends,
    )
    _family(
        lines,
        "tcp_flows_retried_total",
        "counter",
        "New flows sent to another connector after one could not reach its backend.",
        [(router, view.deliveries.retried)],
    )
    _services(lines, router, view)
    links = []
    for name, state in view.connectors.states.items():
        labels = f'{router},link="{_escape(name)}",role="{state.config.role}"'
        links.append((labels, 1 if state.status == "SUCCESS" else 0))
    _family(lines, "link_up", "gauge", "1 while the link's connection is open.", links)
    peers = [
        (f'{router},peer="{_escape(peer)}",role="{conn.origin.role}"', conn.cost)
        for peer, conn in (*view.fabric.neighbors.items(), *view.fabric.edge_connections.items())
    ]
    _family(lines, "router_link_cost", "gauge", "Cost of each open router link.", peers)
    return "\n".join(lines) + "\n"


def _services(lines: list[str], router: str, view: RouterView) -> None:
    """Per routing key: flows clients opened here, their time to the first reply byte, and
    the HTTP requests observed on them."""
    services = view.services
    _family(
        lines,
        "service_flows_total",
        "counter",
        "Flows that clients opened to the service here and that ended.",
        [
            (f'{router},address="{_escape(key)}"', count)
            for key, count in sorted(services.flows.items())
        ],
    )
    _histogram(
        lines,
        "service_reply_latency_seconds",
        "Time from a client's connect to the first byte of the reply.",
        [(f'{router},address="{_escape(key)}"', h) for key, h in sorted(services.latency.items())],
    )
    http = services.http
    _family(
        lines,
        "http_requests_total",
        "counter",
        "HTTP requests observed on the service's flows from clients here, by method and "
        "status class (none: the flow ended unanswered).",
        [
            (f'{router},address="{_escape(key)}",method="{method}",status="{status}"', count)
            for (key, method, status), count in sorted(http.requests.items())
        ],
    )
    _family(
        lines,
        "http_request_body_bytes_total",
        "counter",
        "Body bytes of the observed HTTP requests and responses.",
        [
            (f'{router},address="{_escape(key)}",direction="{direction}"', count)
            for (key, direction), count in sorted(http.octets.items())
        ],
    )
    _histogram(
        lines,
        "http_request_latency_seconds",
        "Time from an HTTP request's head to its response's head.",
        [(f'{router},address="{_escape(key)}"', h) for key, h in sorted(http.latency.items())],
    )


def _histogram(
    lines: list[str], name: str, help_text: str, items: list[tuple[str, Histogram]]
) -> None:
    full = f"{_PREFIX}_{name}"
    lines.append(f"# HELP {full} {help_text}")
    lines.append(f"# TYPE {full} histogram")
    for labels, histogram in items:
        buckets = histogram.cumulative()
        lines.extend(f'{full}_bucket{{{labels},le="{le}"}} {n}' for le, n in buckets)
        lines.append(f"{full}_sum{{{labels}}} {histogram.total}")
        lines.append(f"{full}_count{{{labels}}} {buckets[-1][1]}")


def _family(
    lines: list[str], name: str, kind: str, help_text: str, samples: Iterable[tuple[str, object]]
) -> None:
    full = f"{_PREFIX}_{name}"
    lines.append(f"# HELP {full} {help_text}")
    lines.append(f"# TYPE {full} {kind}")
    lines.extend(f"{full}{{{labels}}} {value}" for labels, value in samples)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
