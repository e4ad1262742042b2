"""Links of real routers hold when nothing flows, and come back fast after a restart.

An edge linked to two hubs, idle for longer than two idle timeouts (4 s on its links here,
16 s by default): no connection of it opens or closes (the standby uplink stays open and
quiet: proton's heartbeats are sent once the peer's idle timeout is known). A router
stopped for 10 s and started again: flows cross again within 3 s of its start."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from tests.ports import free_port
from tests.reliability.figures import report
from tests.router.peers import Backend, EchoHandler
from tests.routernet import RouterNet, wait_listening

IDLE_TIMEOUT = 4  # seconds, each link's listener and connector
IDLE_SECONDS = 10


def test_an_idle_edge_keeps_both_uplinks(net: RouterNet) -> None:
    h1 = net.router("h1", link_access=True, management=True)
    h2 = net.router("h2", link_access=True, management=True)
    edge = net.router("e", mode="edge", management=True)
    net.link(h2, h1)
    net.link(edge, h1)
    net.link(edge, h2)
    for router in (h1, h2, edge):
        for kind, attributes in router.entities:
            if kind in ("listener", "connector") and attributes["role"] != "normal":
                attributes["idleTimeoutSeconds"] = IDLE_TIMEOUT
    net.start()
    net.wait_routes()
    deadline = time.monotonic() + 10
    while edge.log.count("open (role edge)") < 2:
        assert time.monotonic() < deadline, "the edge did not open both uplinks"
        time.sleep(0.1)
    before = {
        r.name: (r.log.count(" open (role"), r.log.count(") closed:")) for r in (h1, h2, edge)
    }
    time.sleep(IDLE_SECONDS)
    after = {r.name: (r.log.count(" open (role"), r.log.count(") closed:")) for r in (h1, h2, edge)}
    report(f"{IDLE_SECONDS} s idle: connections opened/closed per router {before} -> {after}")
    assert after == before, net.logs()


def _echo(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
            client.sendall(b"ping")
            client.shutdown(socket.SHUT_WR)
            return client.recv(10) == b"ping"
    except OSError:
        return False


@pytest.mark.parametrize("restarted", ["front", "back"])
def test_a_restarted_router_carries_flows_within_3_s(net: RouterNet, restarted: str) -> None:
    front = net.router("front", link_access=True, management=True)
    back = net.router("back", management=True)
    net.link(back, front)  # back dials front
    backend = Backend(EchoHandler)
    back.add("tcpConnector", name="c", host="127.0.0.1", port=backend.port, address="echo")
    port = free_port()
    front.add("tcpListener", name="l", host="127.0.0.1", port=port, address="echo")
    net.start()
    net.wait_routes()
    wait_listening(port)
    assert _echo(port)
    router = front if restarted == "front" else back
    router.kill(signal.SIGTERM)
    time.sleep(10)
    started = time.monotonic()
    router.start()
    while not _echo(port):
        assert time.monotonic() - started < 3, "no flow within 3 s of the restart"
        time.sleep(0.05)
    seconds = time.monotonic() - started
    report(f"{restarted} restarted after 10 s down: flows again {seconds:.2f} s after its start")
    backend.close()
