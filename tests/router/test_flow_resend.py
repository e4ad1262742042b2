"""A client's request given back unprocessed (``router/flow_resend.py``), on routers
driven without sockets: RELEASED by a router on the way while routes change, the flow
waits and goes again; with no path left, a clean close after the pause. (A request given
back by a connector router whose backends refuse: ``test_tcp_adaptor.py``.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from skupper_podman.router.flow_resend import FIRST_PAUSE

from .corenet import HOST, CoreNet, Router
from .test_tcp_adaptor import REPLY, REQUEST


@pytest.fixture
def net(tmp_path: Path) -> CoreNet:
    return CoreNet(tmp_path)


def _front_two_middles_back(net: CoreNet, *, middles: int) -> tuple[Router, Router]:
    """front (tcpListener "web") <- mid-N <- back (tcpConnector "web"), N paths."""
    front = net.router("front", link_access=True)
    front.add("tcpListener", name="web", host=HOST, port=8080, address="web")
    back = net.router("back")
    back.add("tcpConnector", name="web", host="10.0.0.10", port=80, address="web")
    for index in range(middles):
        middle = net.router(f"mid-{index + 1}", link_access=True)
        net.link(middle, front)
        net.link(back, middle)
    net.start()
    net.run_until(lambda: front.core.fabric.choose_destination("web") is not None, within=10)
    net.run_until(lambda: ("tcp", "web") in front.listening, within=5)
    return front, back


def _unlink(net: CoreNet, router: Router, target: Router) -> None:
    """``router`` drops its link to ``target`` (its connector goes, as by `link delete`)."""
    router.remove("connector", f"link-{target.name}")
    net.reload(router)


def test_a_flow_released_on_the_way_waits_and_takes_the_path_that_remains(net: CoreNet) -> None:
    """A middle router lost its link to back a moment ago and front does not know yet: the
    middle one releases the request (no route), and with no other destination, front sends
    it again to the same one after a pause, by then through the other path."""
    front, back = _front_two_middles_back(net, middles=2)
    routing = front.core.fabric.routing
    assert routing is not None
    first = net.routers[str(routing.next_hop("back"))]
    _unlink(net, back, first)
    client = net.connect_client(front, "web")
    assert routing.next_hop("back") == first.name  # front has not heard of it yet
    assert front.kinds_of_flow(client.flow_id) == ["PauseTcp"]  # released: it waits
    assert not back.dials and front.core.deliveries.retried == 0

    net.run_until(lambda: bool(back.dials), within=FIRST_PAUSE + 0.5)
    assert routing.next_hop("back") != first.name
    assert front.kinds_of_flow(client.flow_id) == ["PauseTcp", "ResumeTcp"]
    net.send(client, REQUEST)
    net.eof(client)
    backend = net.accept(back, net.dial(back).flow_id)
    assert bytes(backend.received) == REQUEST
    net.send(backend, REPLY)
    net.eof(backend)
    assert bytes(client.received) == REPLY and client.closed and not client.aborted
    assert front.core.deliveries.retried == 1
    assert front.core.tcp.resender.waiting == {}


def test_a_released_flow_with_no_path_left_is_closed_cleanly_after_the_pause(
    net: CoreNet,
) -> None:
    front, back = _front_two_middles_back(net, middles=1)
    _unlink(net, back, net.routers["mid-1"])
    client = net.connect_client(front, "web")
    assert not client.closed and not client.reading  # it waits: routes may be settling

    waited = net.run_until(lambda: client.closed, within=FIRST_PAUSE + 0.5)
    assert waited >= FIRST_PAUSE - 0.1
    assert not client.aborted and bytes(client.received) == b""
    assert not back.dials and front.core.tcp.flows == {}
    assert front.core.fabric.addresses.outstanding == {}
