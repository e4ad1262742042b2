"""What travels between our router and a skupper-router, read off the wire.

Our router runs with proton's frame trace (PN_TRACE_FRM): every AMQP frame it sends (->)
and receives (<-) is in its log. A flow crosses ``ours - sk``; the test reads how the
reference writes annotations, where it sends routing messages, how it acknowledges a
stream's window, and checks that ours does the same in the other direction.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.router.peers import Backend, StreamHandler, stream_through
from tests.routernet import Kind, RouterNet, wait_listening

from .chains import build

MIB = 1024 * 1024
OFFSET = re.compile(r"section-offset=0x([0-9a-f]+)")


def frames(log: str, direction: str, performative: str) -> list[str]:
    return [
        line
        for line in log.splitlines()
        if "AMQP:FRAME:" in line and f"{direction} @{performative}(" in line
    ]


def stream_settled(log: str, receiver: str) -> bool:
    """The stream whose receiver sends the ``receiver`` frames ended settled: the receiver
    settled it ACCEPTED, or the sender settled it first. skupper-router, as the sender,
    settles a stream once its backend connection is gone, whether or not the receiver's
    outcome has arrived: on a transfer (also one with more to come) or with a MODIFIED
    disposition, depending on timing inside it."""
    sender = "<-" if receiver == "->" else "->"
    by_receiver = any(
        "settled=true, state=@accepted" in line for line in frames(log, receiver, "disposition")
    )
    by_sender = any(
        "role=false" in line and "settled=true" in line
        for line in frames(log, sender, "disposition")
    ) or any(
        "settled=true" in line and "AMQP:FRAME:0 " not in line
        for line in frames(log, sender, "transfer")
    )  # channel 0 is the control session, whose messages are all sent settled
    return by_receiver or by_sender


def test_annotations_routing_messages_and_window_on_the_wire(net: RouterNet) -> None:
    backend = Backend(StreamHandler, send_size=2 * MIB)
    chain = build(net, "ours-sk", backend, start=False)
    ours, sk = chain.routers
    ours.trace_frames = True
    net.start()
    wait_listening(chain.port, timeout=30)
    result = stream_through(chain.port, 2 * MIB, timeout=60)
    assert backend.has_result((result.sent_sha, result.received_sha))
    # The client has its end when the socket is shut; the streams' settlements travel on
    # the AMQP connection just after: wait until both are in the trace.
    deadline = time.monotonic() + 5
    while not (stream_settled(ours.log, "->") and stream_settled(ours.log, "<-")):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    log = ours.log

    # Both write the ingress router and the trace as 0/<router id> (area, slash, id).
    received = frames(log, "<-", "transfer")
    sent = frames(log, "->", "transfer")
    assert any(f"0/{sk.name}" in line for line in received)
    assert any(f"0/{ours.name}" in line for line in sent)

    # Routing messages (HELLO, RA, LSR/LSU, MAR/MAU) travel on the control session only:
    # channel 0, the session of the control links, both ways.
    for direction, lines in (("<-", received), ("->", sent)):
        routing = [line for line in lines if "opcode" in line]
        assert routing, f"no routing message {direction}"
        channels = {re.search(r"AMQP:FRAME:(\d+) ", line).group(1) for line in routing}  # type: ignore[union-attr]
        assert channels == {"0"}, f"routing messages {direction} on channels {channels}"

    # Each receiving end acknowledges what it wrote to its socket with RECEIVED and a
    # growing section-offset; the stream ends settled (see stream_settled).
    for direction in ("<-", "->"):
        updates = frames(log, direction, "disposition")
        offsets = [int(m.group(1), 16) for line in updates if (m := OFFSET.search(line))]
        assert offsets, f"no window update {direction}"
        assert offsets == sorted(offsets) and offsets[-1] <= 2 * MIB
        assert stream_settled(log, direction), f"stream received {direction} never settled"
    backend.close()


@pytest.mark.parametrize("dialler", ["ours", "sk"])
def test_both_routers_take_the_cost_of_a_link_from_either_end(
    net: RouterNet, dialler: Kind
) -> None:
    """The dialling router's link cost travels in its Open (``qd.inter-router-cost``, an
    AMQP int: skupper-router ignores any other type); both ends then count the link at it."""
    listener_kind: Kind = "sk" if dialler == "ours" else "ours"
    near = net.router("near", kind=dialler, management=True)
    far = net.router("far", kind=listener_kind, link_access=True, management=True)
    net.link(near, far, cost=3)
    net.start()
    net.wait_routes()
    costs: dict[str, int] = {}
    deadline = time.monotonic() + 10
    while costs != {"near": 3, "far": 3}:
        assert time.monotonic() < deadline, f"link costs seen: {costs}"
        time.sleep(0.1)
        costs = {
            router.name: int(row["cost"] or 0)  # None until its routes are computed
            for router, other in ((near, far), (far, near))
            for row in router.query("router.node")
            if row["id"] == other.name
        }
