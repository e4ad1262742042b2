"""Failover on refusal, with real routers on loopback: a flow whose backend refuses
moves to another connector with what the client sent, the refused connector leaves the
rotation and is probed back, and a client is closed cleanly, within a second, only when
no connector anywhere can take its flow."""

from __future__ import annotations

import socket
import time

from tests.reliability.figures import report
from tests.router.peers import Backend, EchoHandler
from tests.routernet import RouterNet, wait_listening

from .test_data_plane import _connect, _echo_intact, _listen

FLOWS = 40


def test_refused_flows_move_to_another_connector_and_the_connector_is_probed_back(
    net: RouterNet,
) -> None:
    hub = net.router("hub", link_access=True, management=True)
    back_1 = net.router("back-1", management=True)
    back_2 = net.router("back-2", management=True)
    edge = net.router("edge", mode="edge", management=True)
    for router in (back_1, back_2, edge):
        net.link(router, hub)
    gone, echo = Backend(EchoHandler), Backend(EchoHandler)
    _connect(back_1, gone)
    _connect(back_2, echo)
    port = _listen(edge)
    net.start()
    net.wait_routes()
    wait_listening(port, timeout=20)
    gone_port = gone.port
    gone.close()  # back-1's backend now refuses; back-1 does not know yet

    # Flows one after another from the edge: balanced, so some go to back-1 first.
    times = []
    for _ in range(FLOWS):
        started = time.monotonic()
        assert _echo_intact(port, 1024, timeout=10)
        times.append(time.monotonic() - started)
    [connector] = back_1.query("tcpConnector")
    assert connector["operStatus"] == "down"
    assert "backend out of rotation" in connector["connectionMsg"]
    assert connector["connectionsFailed"] == 1  # out of rotation after the first refusal
    report(f"{FLOWS} flows with back-1's backend refusing: {FLOWS} intact, slowest "
           f"{max(times) * 1000:.0f} ms, median {sorted(times)[FLOWS // 2] * 1000:.1f} ms; "
           f"back-1 refused 1 flow and left the rotation")  # fmt: skip

    # No connector left anywhere: the client is closed cleanly (no reset), within a second.
    echo.close()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"hello")
        started = time.monotonic()
        client.settimeout(5)
        assert client.recv(100) == b""  # a reset would raise ConnectionResetError
        closed_after = time.monotonic() - started
    assert closed_after < 1.0
    wait_listening(port, timeout=5, open_=False)  # nothing offers the key: the listener closes
    [connector] = back_2.query("tcpConnector")
    assert connector["operStatus"] == "down"

    # back-1's backend is back: probed into rotation, the listener opens again.
    started = time.monotonic()
    back = Backend(EchoHandler, port=gone_port)
    wait_listening(port, timeout=15)
    returned_after = time.monotonic() - started
    assert _echo_intact(port, 1024, timeout=10)
    [connector] = back_1.query("tcpConnector")
    assert connector["operStatus"] == "up"
    report(f"no connector left: client closed cleanly {closed_after * 1000:.0f} ms after its "
           f"request; back-1 in rotation {returned_after:.1f} s after its backend "
           "returned")  # fmt: skip
    back.close()
