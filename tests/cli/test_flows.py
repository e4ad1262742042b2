"""`skupper-podman flows` with real routers: a client's flow while it is open and after it
ended, on both sites, with the bytes each way and the reply's latency."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from tests.cli.test_system import wait_until_linked
from tests.cli_helpers import init_linkable_site, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler
from tests.routernet import wait_for_port


def flows(namespace: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = status_json("flows", "-n", namespace)
    return found


def wait_for(
    namespace: str, state: str, side: str, besides: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The first flow of ``side`` in ``state``, other than the flows named in ``besides``."""
    deadline = time.monotonic() + 10
    while True:
        found = [
            f
            for f in flows(namespace)
            if f["state"] == state and f["side"] == side and f["name"] not in besides
        ]
        if found:
            return found[0]
        assert time.monotonic() < deadline, (namespace, flows(namespace))
        time.sleep(0.1)


def test_flows_show_a_live_flow_and_then_the_ended_one(
    router_available: None, tmp_path: Path
) -> None:
    east = init_linkable_site("east")
    ok("site", "init", "west", "-n", "west")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", east).stdout)
    ok("link", "create", str(link_file), "--name", "to-east", "-n", "west")
    backend = Backend(EchoHandler)
    ok("connector", "create", "echo", str(backend.port), "--host", "127.0.0.1", "-n", east)
    port = free_port()
    ok("listener", "create", "front", str(port), "--routing-key", "echo", "-n", "west")
    wait_until_linked("west")
    wait_for_port(port, timeout=20)
    # the readiness probe's connection is a flow that ended already
    probes = frozenset(f["name"] for f in flows("west"))
    assert {f["state"] for f in flows("west")} <= {"closed"}

    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"x" * 1000)
        echoed = b""
        while len(echoed) < 1000:
            echoed += client.recv(4096)
        live = wait_for("west", "open", "listener", probes)
        assert (live["via"], live["address"]) == ("front", "echo")
        assert (live["bytesIn"], live["bytesOut"]) == (1000, 1000)
        assert live["latencyMs"] > 0 and live["uptimeSeconds"] > 0
        backend_side = wait_for(east, "open", "connector")
        assert (backend_side["via"], backend_side["address"]) == ("echo", "echo")
        assert (backend_side["bytesIn"], backend_side["bytesOut"]) == (1000, 1000)
        client.shutdown(socket.SHUT_WR)
        assert client.recv(4096) == b""

    ended = wait_for("west", "closed", "listener", probes)
    assert (ended["name"], ended["bytesIn"], ended["bytesOut"]) == (live["name"], 1000, 1000)
    assert ended["endedSecondsAgo"] >= 0
    others = frozenset(f["name"] for f in flows(east) if f["name"] != backend_side["name"])
    assert wait_for(east, "closed", "connector", others)["bytesIn"] == 1000
    table = ok("flows", "-n", "west").stdout
    assert "front" in table and "closed" in table
