"""`network status` draws the network as a tree from this site's router."""

from __future__ import annotations

import io

from rich.console import Console

from skupper_podman.cli.topology import topology
from skupper_podman.site.network import NetworkLink, NetworkRouter, NetworkStatus, RoutingKey


def _router(router_id: str, mode: str = "interior", *, local: bool = False) -> NetworkRouter:
    return NetworkRouter(router_id, mode, router_id, router_id, "linux", "0.1.0", local,
                         product="skupper-podman")  # fmt: skip


def drawn(network: NetworkStatus) -> list[str]:
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(topology(network))
    return buffer.getvalue().splitlines()


def test_routers_hang_under_the_router_they_are_reached_through() -> None:
    network = NetworkStatus(
        routers=[
            _router("e1", "edge", local=True),
            _router("hub"),
            _router("e2", "edge"),
            _router("dc"),
        ],
        links=[
            NetworkLink("e1", "hub", "edge", 1, "up"),
            NetworkLink("e2", "hub", "edge", 1, "up"),
            NetworkLink("dc", "hub", "inter-router", 2, "up"),
            NetworkLink("dc", "e2", "inter-router", 5, "down"),  # closes a cycle
        ],
        routing_keys=[RoutingKey("db", listeners=["e1"], connectors=["dc"])],
    )
    lines = drawn(network)
    assert lines[0] == "e1: edge, linux, skupper-podman [this site]"
    text = "\n".join(lines)
    hub = next(i for i, line in enumerate(lines) if "to hub: interior" in line)
    below_hub = lines[hub + 1 :]
    assert any("inter-router link (up, cost 2) to dc: interior" in line for line in below_hub)
    assert any("edge link (up, cost 1) to e2: edge" in line for line in below_hub)
    assert "listens for db" in lines[1]
    assert "connects for db" in text
    assert "other links" in text and "dc - e2: inter-router link (down, cost 5)" in text


def test_a_router_no_link_reaches_is_still_shown() -> None:
    network = NetworkStatus(
        routers=[_router("west", local=True), _router("lost")], links=[], routing_keys=[]
    )
    expected = "not linked in this view: lost: interior, linux, skupper-podman"
    assert drawn(network)[1].endswith(expected)
