"""`site init --edge` and `network status` with real routers: a hub and two edge sites."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from tests.cli_helpers import fails, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_for_port


def test_edge_sites_reach_each_other_and_network_status_shows_all(tmp_path: Path) -> None:
    ok("site", "init", "hub", "-n", "hub", "--link-access", "--port", str(free_port()))
    ok("site", "init", "e1", "-n", "e1", "--edge")
    ok("site", "init", "e2", "-n", "e2", "--edge")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "-n", "hub", "--host", "127.0.0.1").stdout)
    ok("link", "create", str(link_file), "-n", "e1")
    ok("link", "create", str(link_file), "-n", "e2")
    backend = Backend(EchoHandler)
    port = free_port()
    try:
        ok(
            "connector",
            "create",
            "echo",
            str(backend.port),
            "--routing-key",
            "echo",
            "--host",
            "127.0.0.1",
            "-n",
            "e2",
        )
        ok("listener", "create", "echo", str(port), "--routing-key", "echo", "-n", "e1")
        wait_for_port(port, timeout=20)
        assert echo_once(port, b"edge to edge") == b"edge to edge"
        network = status_json("network", "status", "-n", "e1")
        routers = {r["id"]: r for r in network["routers"]}
        assert set(routers) == {"hub", "e1", "e2"}
        assert routers["e1"]["local"] and routers["e2"]["mode"] == "edge"
        assert routers["hub"]["mode"] == "interior"
        links = {
            (link["source"], link["target"], link["role"], link["state"])
            for link in network["links"]
        }
        assert links == {("e1", "hub", "edge", "up"), ("e2", "hub", "edge", "up")}
        assert network["routingKeys"] == [
            {"key": "echo", "listeners": ["e1"], "connectors": ["e2"]}
        ]
        drawn = ok("network", "status", "-n", "e1").stdout.splitlines()
        assert drawn[:3] == ["Topology", "e1: edge, linux, skupper-podman [this site]",
                             "├── listens for echo"]  # fmt: skip
        assert "edge link (up, cost 1) to hub: interior, linux, skupper-podman" in drawn[3]
        assert "edge link (up, cost 1) to e2: edge, linux, skupper-podman" in drawn[4]
        assert "connects for echo" in drawn[5]
        edge_status = status_json("site", "status", "-n", "e1")
        assert edge_status["links"] == [
            {"name": "link-hub", "up": True, "error": "", "remoteSite": "hub", "cost": 1}
        ]
        assert status_json("site", "status", "-n", "hub")["linkedSites"] == ["e1", "e2"]
        assert "link-hub up to hub (cost 1)" in ok("site", "status", "-n", "e1").stdout
        metrics = urllib.request.urlopen(edge_status["metrics"], timeout=5).read().decode()
        assert 'skupper_router_link_up{router="e1",link="link-hub",role="edge"} 1' in metrics
        assert 'skupper_router_tcp_listener_connections_opened_total{router="e1"' in metrics
        table = ok("network", "status", "-n", "hub").stdout
        assert "Routing keys" in table and "echo" in table
    finally:
        backend.close()  # the sites go with the test (their logs are printed if it failed)


def test_edge_site_cannot_accept_links() -> None:
    message = fails("site", "init", "-n", "x", "--edge", "--link-access")
    assert "edge site accepts no links" in message
