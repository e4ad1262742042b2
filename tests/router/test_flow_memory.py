"""What a flow leaves behind once it has ended: nothing. Two router cores in memory carry
flows that end in each way a flow ends; afterwards no flow, stream or proton delivery of
theirs is alive (a cycle through proton's C records once kept every one of them)."""

from __future__ import annotations

import gc
from pathlib import Path

from proton import Delivery

from skupper_podman.router.streams import InboundStream, OutboundStream
from skupper_podman.router.tcp import TcpFlow

from .corenet import CoreNet
from .test_core import REQUEST, open_flow, two_routers


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
