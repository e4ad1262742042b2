"""Failover of new flows whose backend cannot be reached (``router/tcp_adaptor.py``), on
routers driven without sockets: another connector takes the flow, with the bytes the
client sent; a connector out of rotation is probed back; the client sees a clean close
only when nothing is left."""

from __future__ import annotations

from pathlib import Path

import pytest

from skupper_podman.router import commands as cmd
from skupper_podman.router.backend_health import FIRST_PROBE
from skupper_podman.router.tcp import REPLAY_LIMIT

from .corenet import HOST, CoreNet, Router
from .test_core import linked

REQUEST = b"GET / HTTP/1.1\r\nHost: web\r\n\r\n"
REPLY = b"HTTP/1.1 200 OK\r\n\r\n"


@pytest.fixture
def net(tmp_path: Path) -> CoreNet:
    return CoreNet(tmp_path)


def _hub_and_backends(net: CoreNet, *names: str) -> tuple[Router, list[Router]]:
    """front (tcpListener "web") <- each of ``names`` (one tcpConnector "web" each)."""
    front = net.router("front", link_access=True)
    front.add("tcpListener", name="web", host=HOST, port=8080, address="web")
    backs = []
    for index, name in enumerate(names):
        back = net.router(name)
        net.link(back, front)
        back.add("tcpConnector", name="web", host=f"10.0.0.{index + 10}", port=80, address="web")
        backs.append(back)
    net.start()
    net.run_until(lambda: all(linked(front, back) for back in backs), within=5)
    net.run_until(lambda: ("tcp", "web") in front.listening, within=5)
    return front, backs


def _dialling(backs: list[Router]) -> Router:
    waiting = [back for back in backs if back.dials]
    assert len(waiting) == 1, [(back.name, list(back.dials.values())) for back in backs]
    return waiting[0]


def test_a_second_connector_on_the_same_router_takes_the_flow(net: CoreNet) -> None:
    front = net.router("front", link_access=True)
    back = net.router("back")
    net.link(back, front)
    front.add("tcpListener", name="web", host=HOST, port=8080, address="web")
    back.add("tcpConnector", name="web-a", host="10.0.0.10", port=80, address="web")
    back.add("tcpConnector", name="web-b", host="10.0.0.11", port=80, address="web")
    net.start()
    net.run_until(lambda: ("tcp", "web") in front.listening, within=5)

    client = net.connect_client(front, "web")
    net.send(client, REQUEST)
    first = net.dial(back)
    net.refuse(back, first.flow_id)
    second = net.dial(back)
    assert second.flow_id == first.flow_id and second.host != first.host
    backend = net.accept(back, second.flow_id)
    assert bytes(backend.received) == REQUEST
    net.send(backend, REPLY)
    assert bytes(client.received) == REPLY and not client.closed

    refused = "web-a" if first.host == "10.0.0.10" else "web-b"
    assert not back.core.tcp.health.is_up(refused)
    assert back.core.deliveries.retried == 1
    counters = back.core.tcp.counters[("connector", refused)]
    assert (counters.failed, counters.connections_opened, counters.connections_closed) == (1, 1, 1)


def test_the_listener_router_sends_a_released_flow_to_another_router(net: CoreNet) -> None:
    front, backs = _hub_and_backends(net, "back-1", "back-2")
    client = net.connect_client(front, "web")
    sent = REQUEST + b"x" * (REPLAY_LIMIT - len(REQUEST))  # all of what may be kept
    net.send(client, sent)
    failing = _dialling(backs)
    net.refuse(failing, net.dial(failing).flow_id)
    other = _dialling(backs)
    assert other is not failing
    backend = net.accept(other, net.dial(other).flow_id)
    assert bytes(backend.received) == sent  # the same bytes, once, in order
    net.send(backend, REPLY)
    net.eof(client)
    net.eof(backend)
    assert bytes(client.received) == REPLY and client.shutdown
    assert front.core.deliveries.retried == 1
    assert front.core.tcp.flows == {} or all(f.closed for f in front.core.tcp.flows.values())


def test_a_flow_that_sent_more_than_it_may_keep_is_not_moved(net: CoreNet) -> None:
    front, backs = _hub_and_backends(net, "back-1", "back-2")
    client = net.connect_client(front, "web")
    net.send(client, b"x" * (REPLAY_LIMIT + 1))
    failing = _dialling(backs)
    net.refuse(failing, net.dial(failing).flow_id)
    assert client.closed and not client.aborted and bytes(client.received) == b""
    assert not any(back.dials for back in backs)
    assert front.core.deliveries.retried == 0


def test_clean_close_when_no_connector_is_left_then_probed_back(net: CoreNet) -> None:
    front, backs = _hub_and_backends(net, "back-1", "back-2")
    client = net.connect_client(front, "web")
    net.send(client, REQUEST)
    for _ in backs:
        failing = _dialling(backs)
        net.refuse(failing, net.dial(failing).flow_id)
    assert client.closed and not client.aborted and bytes(client.received) == b""
    # Nobody offers "web" any more: the listener closes until a backend answers again.
    net.run_until(lambda: ("tcp", "web") not in front.listening, within=2)

    net.advance(FIRST_PROBE + 0.1)
    probes = [p for back in backs for p in back.of_kind(cmd.ProbeTcp)]
    assert sorted(p.host for p in probes) == ["10.0.0.10", "10.0.0.11"]
    backs[0].core.backend_probed("web", "Connection refused", net.now)  # still down
    backs[1].core.backend_probed("web", "", net.now)  # answers
    net.pump()
    assert backs[1].core.tcp.health.is_up("web") and not backs[0].core.tcp.health.is_up("web")
    net.run_until(lambda: ("tcp", "web") in front.listening, within=2)

    # back-1 is probed again later (back-off), back-2 takes the next flow at once
    client = net.connect_client(front, "web")
    net.send(client, REQUEST)
    assert _dialling(backs) is backs[1]
    net.advance(2 * FIRST_PROBE + 0.1)
    assert len(backs[0].of_kind(cmd.ProbeTcp)) == 2
