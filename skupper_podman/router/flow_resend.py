"""Sending a client's request again when the network gives it back unprocessed.

A request comes back before any byte of it reached a backend in two ways:

- ``UNDELIVERABLE_HERE``: the destination's router reached none of its backends. Another
  destination may take it; once none is left, the client gets a clean close.
- ``RELEASED``: a router on the way had no route for it. skupper-router does this while
  routes settle: for up to a second after a path through it appears, it does not yet
  count the routers behind it as valid origins for the destination, and releases what
  they send; in a new mesh of them that lasts a few seconds. The same destination may take
  the request a moment later, so when no other is left the flow waits (its client's
  reading paused) and goes again: ``FIRST_PAUSE``, doubled at each send.

Either way a flow goes at most ``MAX_RESENDS`` times after the first, each time with what
its client sent so far (``tcp.REPLAY_LIMIT`` at most).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from . import commands as cmd
from .addressing import AddressTable, Destination
from .message import encode_stream_header
from .streams import RELEASED, OutboundStream, StreamOwner
from .tcp import TcpFlow

MAX_RESENDS = 4
FIRST_PAUSE = 0.25  # seconds; 3.75 s in all, where skupper-router computes routes each second


class Destinations(Protocol):
    """Where a flow can go (the router's fabric)."""

    def choose_destination(
        self,
        address: str,
        exclude: tuple[str, ...] = (),
        from_edge: str = "",
        avoid: Collection[object] = (),
    ) -> Destination | None: ...

    def reachable(self, address: str, *, excluding_edge: str = "") -> bool: ...

    def reply_address(self) -> str:
        """A new address of this router's own, for a reply stream."""


class StreamOpener(Protocol):
    def open_stream(
        self, destination: Destination, header: bytes, owner: StreamOwner, reply_to: str = ""
    ) -> OutboundStream | None: ...


class ResendCount(Protocol):
    retried: int


class FlowResender:
    """The listener side's answer to a request given back: where it goes next, and when."""

    def __init__(
        self,
        routes: Destinations,
        streams: StreamOpener,
        addresses: AddressTable,
        deliveries: ResendCount,
        reply_flows: dict[str, TcpFlow],
        emit: Callable[[cmd.Command], None],
        clock: Callable[[], float],
        *,
        start_local_flow: Callable[[TcpFlow, str], None],
    ) -> None:
        self.routes = routes
        self.streams = streams
        self.addresses = addresses
        self.deliveries = deliveries
        self.reply_flows = reply_flows
        self.emit = emit
        self.clock = clock
        self.start_local_flow = start_local_flow
        self.waiting: dict[int, tuple[float, TcpFlow]] = {}  # flow id -> (when it goes, flow)

    def given_back(self, flow: TcpFlow, outcome: int) -> bool:
        """``flow``'s request came back unprocessed (``outcome``): True if it goes again,
        now or after a pause; False if the client is to be closed."""
        if flow.replay is None or flow.retries >= MAX_RESENDS or not flow.address:
            return False
        old = flow.route_key
        if isinstance(old, Destination):
            if old.kind != "uplink":  # an edge's only way out: the hub chooses anew each time
                flow.tried.add(old)
            self.addresses.flow_ended(old)
            flow.route_key = None
        destination = self.routes.choose_destination(flow.address, avoid=flow.tried)
        if outcome == RELEASED and destination in (None, old):
            return self._wait(flow)
        return destination is not None and self._send(flow, destination)

    def next_due(self) -> float | None:
        if not self.waiting:  # asked every loop turn; flows wait only while routes change
            return None
        return min(due for due, _ in self.waiting.values())

    def send_due(self, now: float) -> None:
        """The flows whose pause is over go again, or are closed if nothing takes them."""
        for flow_id, (due, flow) in list(self.waiting.items()):
            if due > now:
                continue
            del self.waiting[flow_id]
            if flow.closed:
                continue
            destination = self.routes.choose_destination(flow.address, avoid=flow.tried)
            if flow.replay is None or destination is None or not self._send(flow, destination):
                flow.close_unsent()
            elif flow.paused:
                flow.paused = False
                self.emit(cmd.ResumeTcp(flow.flow_id))

    def _wait(self, flow: TcpFlow) -> bool:
        if not self.routes.reachable(flow.address):
            return False
        flow.tried.clear()  # the same destinations may take it once routes settle
        flow.outbound = None  # what the client sends meanwhile goes to the replay
        if not flow.paused:
            flow.paused = True
            self.emit(cmd.PauseTcp(flow.flow_id))
        pause = FIRST_PAUSE * 2**flow.retries
        self.waiting[flow.flow_id] = (self.clock() + pause, flow)
        why = f"flow {flow.flow_id}: released on the way to {flow.address}, again in"
        self.emit(cmd.Log("debug", "tcp", f"{why} {pause} s"))
        return True

    def _send(self, flow: TcpFlow, destination: Destination) -> bool:
        flow.retries += 1
        flow.route_key = destination
        self.addresses.flow_started(destination)
        self.deliveries.retried += 1
        return self.open_request(flow, destination)

    def open_request(self, flow: TcpFlow, destination: Destination) -> bool:
        """Open ``flow``'s request to ``destination`` (a local connector, or a stream
        across the network) with what its client sent so far: False if it cannot go."""
        if destination.kind == "local":
            self.start_local_flow(flow, destination.name)
        else:
            if not flow.reply_address:  # a first send, or its first destination was local
                flow.reply_address = self.routes.reply_address()
            self.reply_flows[flow.reply_address] = flow
            header = encode_stream_header(
                to=flow.address, reply_to=flow.reply_address, correlation_id=flow.record_id
            )
            outbound = self.streams.open_stream(
                destination, header, flow, reply_to=flow.reply_address
            )
            if outbound is None:
                return False
            flow.outbound = outbound
        assert flow.outbound is not None
        for data in flow.replay or ():
            flow.outbound.write(data)
        if flow.read_closed:
            flow.outbound.finish()
        return True
