"""What a flow leaves behind once it has ended: nothing. Router cores in memory carry
flows that end in each way a flow ends; afterwards no flow, stream or proton delivery of
theirs is alive (a cycle through proton's C records once kept every one of them), and
none was left for the garbage collector to find (a flow and its streams named each other,
and the collector's passes over every ended flow cost several percent of a router's time)."""

from __future__ import annotations

import gc
from pathlib import Path

from proton import Delivery

from skupper_podman.router.engine import AmqpEngine
from skupper_podman.router.forwarder import Forwarder
from skupper_podman.router.inbound_stream import InboundStream
from skupper_podman.router.streams import OutboundStream
from skupper_podman.router.tcp import TcpFlow

from .corenet import HOST, CoreNet, Router
from .test_core import BACKEND_HOST, REQUEST, linked, open_flow, two_routers


def alive() -> dict[str, int]:
    gc.collect()
    kinds = (TcpFlow, InboundStream, OutboundStream, Delivery)
    counts = dict.fromkeys((kind.__name__ for kind in kinds), 0)
    for thing in gc.get_objects():
        if isinstance(thing, kinds):
            counts[type(thing).__name__] += 1
    return counts


def test_ended_flows_leave_nothing_behind(tmp_path: Path) -> None:
    net = CoreNet(tmp_path)
    west, east = two_routers(net)
    client, backend = open_flow(net, west, east)  # one flow stays open throughout
    net.send(backend, b"reply")
    net.advance(1)
    before = alive()
    for n in range(60):
        flow_client, flow_backend = open_flow(net, west, east)
        net.send(flow_backend, b"r" * 100)
        if n % 3 == 0:  # the client ends first
            net.eof(flow_client)
            net.eof(flow_backend)
        elif n % 3 == 1:  # the backend ends first
            net.eof(flow_backend)
            net.eof(flow_client)
        else:  # the client goes away in mid-stream
            net.send(flow_client, REQUEST)
            net.reset(flow_client)
        assert bytes(flow_client.received).startswith(b"r" * 100)
    net.advance(10)  # ended flow records are kept 5 s
    assert alive() == before
    assert bytes(client.received) == b"reply"


def test_an_ended_flow_is_let_go_at_its_end_not_at_the_next_records_round(
    tmp_path: Path,
) -> None:
    """Its record, kept a while for collectors, holds its figures, not the flow: under
    load, flows still held by their records waited long enough to grow old in the garbage
    collector's generations (in memory with a clock that stands still, for ever)."""
    net = CoreNet(tmp_path)
    west, east = two_routers(net)
    carry_flows(net, west, east, 3)  # what a first flow makes once (links, pools)
    net.advance(10)
    before = alive()
    carry_flows(net, west, east, 30)  # the clock stands still: no records round runs
    assert alive() == before


def carry_flows(net: CoreNet, west: Router, east: Router, count: int) -> None:
    """Flows ending in each way a flow ends: client first, backend first, client reset."""
    for n in range(count):
        flow_client, flow_backend = open_flow(net, west, east)
        net.send(flow_backend, b"r" * 100)
        if n % 3 == 0:
            net.eof(flow_client)
            net.eof(flow_backend)
        elif n % 3 == 1:
            net.eof(flow_backend)
            net.eof(flow_client)
        else:
            net.send(flow_client, REQUEST)
            net.reset(flow_client)
        assert bytes(flow_client.received).startswith(b"r" * 100)


def test_ended_flows_are_freed_at_once_not_by_the_collector(tmp_path: Path) -> None:
    net = CoreNet(tmp_path)
    west = net.router("west", link_access=True)
    hub = net.router("hub", link_access=True)  # passes each stream on (a Forwarder)
    east = net.router("east")
    net.link(hub, west)
    net.link(east, hub)
    west.add("tcpListener", name="web", host=HOST, port=8080, address="web")
    east.add("tcpConnector", name="web", host=BACKEND_HOST, port=80, address="web")
    net.start()
    net.run_until(lambda: linked(west, hub) and linked(hub, east), within=5)
    net.run_until(lambda: bool(west.routing.routers_with_address("web")), within=5)
    carry_flows(net, west, east, 3)  # what a first flow makes once (links, pools)
    net.advance(10)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        carry_flows(net, west, east, 30)
        net.advance(10)
        gc.collect()
        kinds = (TcpFlow, Forwarder, InboundStream, OutboundStream, Delivery)
        in_cycles = [type(thing).__name__ for thing in gc.garbage if isinstance(thing, kinds)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert in_cycles == []


def resident_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_connection_keeps_no_large_buffer_of_its_own() -> None:
    """A hub has a connection per edge: each once kept a 1 MiB output buffer resident."""
    warm = AmqpEngine(server=False, ssl_domain=None, sasl_mechanisms="ANONYMOUS")
    warm.connection.open()
    assert warm.take_output()
    before = resident_kib()
    engines = [
        AmqpEngine(server=False, ssl_domain=None, sasl_mechanisms="ANONYMOUS") for _ in range(32)
    ]
    for engine in engines:
        engine.connection.open()
        assert engine.take_output()  # its header and open frame
    assert resident_kib() - before < 8 * 1024  # 32 MiB and more with a buffer each
