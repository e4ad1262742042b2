"""TCP flows: one TCP connection at the edge of the network, joined to two streams.

A flow reads its socket into an outbound stream and writes an inbound stream to its
socket. On the listener side the outbound stream is the request (to the routing key) and
the inbound one the reply; on the connector side it is the other way round. Half-close is
first-class: read EOF finishes the outbound stream, the end of the inbound stream
shuts down the socket's write side, and the flow is over when both directions are.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from . import commands as cmd
from .streams import (
    ACCEPTED,
    FIRST_BURST,
    MODIFIED,
    RELEASED,
    UNDELIVERABLE_HERE,
    WINDOW,
    Inbound,
    Outbound,
)

Emit = Callable[[cmd.Command], None]
REPLAY_LIMIT = FIRST_BURST  # what a client may send before its flow can no longer move


class FlowState(enum.Enum):
    DIALLING = "dialling"  # connector side: the backend has not answered yet
    OPEN = "open"  # bytes both ways
    READ_CLOSED = "read-closed"  # the socket's peer finished sending: the outbound stream ended
    WRITE_CLOSED = "write-closed"  # the inbound stream ended: the socket's write side shut
    SHUT = "shut"  # both directions ended, the outbound stream not yet finished
    CLOSED = "closed"  # the socket is closed (cleanly or aborted)


# Every legal move of a flow's state; any other is a bug.
_MOVES: dict[FlowState, frozenset[FlowState]] = {
    FlowState.DIALLING: frozenset({FlowState.OPEN, FlowState.CLOSED}),
    FlowState.OPEN: frozenset({FlowState.READ_CLOSED, FlowState.WRITE_CLOSED, FlowState.CLOSED}),
    FlowState.READ_CLOSED: frozenset({FlowState.SHUT, FlowState.CLOSED}),
    FlowState.WRITE_CLOSED: frozenset({FlowState.SHUT, FlowState.CLOSED}),
    FlowState.SHUT: frozenset({FlowState.CLOSED}),
    FlowState.CLOSED: frozenset(),
}
_READ_CLOSED = frozenset({FlowState.READ_CLOSED, FlowState.SHUT})


@dataclass
class TcpCounters:
    """Per tcpListener / tcpConnector statistics, as management reports them."""

    connections_opened: int = 0
    connections_closed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    failed: int = 0  # TLS handshakes refused, backends that could not be reached
    last_error: str = ""
    active: set[int] = field(default_factory=set)

    def failure(self, reason: str) -> None:
        self.failed += 1
        self.last_error = reason


class Watcher(Protocol):
    """Reads a flow's bytes each way without changing them (``http_observer.Observer``)."""

    def data(self, from_client: bool, data: bytes) -> Watcher | None:
        """Who reads the next bytes (None: nobody wants them)."""

    def end(self) -> None: ...


class FlowObserver(Protocol):
    """Who keeps the flows' records for collectors (``flow_reporter.py``)."""

    def flow_started(self, flow: TcpFlow, now: float) -> str | None:
        """A client's flow: the identity its request carries (correlation-id)."""

    def watch(self, flow: TcpFlow, observer: str, clock: Callable[[], float]) -> Watcher | None:
        """What reads a client's flow for HTTP (``observer``: the listener's setting)."""

    def connector_flow_started(self, flow: TcpFlow, record_id: str) -> None: ...

    def flow_ended(self, flow: TcpFlow, now: float) -> None: ...


class TcpFlow:
    """One TCP connection carried over the network."""

    __slots__ = (
        "_clock",
        "_on_closed",
        "_on_released",
        "address",
        "bytes_in",
        "bytes_out",
        "counters",
        "emit",
        "first_in_at",
        "first_out_at",
        "flow_id",
        "inbound",
        "outbound",
        "paused",
        "pending",
        "record_id",
        "replay",
        "replay_size",
        "reply",
        "reply_address",
        "retries",
        "route_key",
        "side",
        "started_at",
        "state",
        "taken",
        "tried",
        "via",
        "watcher",
        "write_paused",
    )

    def __init__(
        self,
        flow_id: int,
        emit: Emit,
        counters: TcpCounters,
        on_closed: Callable[[TcpFlow], None],
        *,
        on_released: Callable[[TcpFlow, int], bool] = lambda flow, outcome: False,
        socket_ready: bool,
        side: str = "listener",
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.flow_id = flow_id
        self.side = side  # "listener": a client's connection; "connector": to a backend
        self.via = ""  # the tcpListener's or tcpConnector's name
        self.emit = emit
        self.counters = counters
        self._on_closed = on_closed
        self._on_released = on_released
        self.outbound: Outbound | None = None
        self.inbound: Inbound | None = None
        self.reply: Outbound | None = None  # connector side: told of request bytes while held
        self.state = FlowState.OPEN if socket_ready else FlowState.DIALLING
        self.pending: list[bytes] = []  # inbound bytes that arrived before the socket was ready
        # flow control, beside the state: reading paused (the window is full), writing
        # paused (the socket's buffer is above its high mark)
        self.paused = False
        self.write_paused = False
        self.taken = 0  # bytes the socket's transport took (its buffer below the high mark)
        self.reply_address = ""
        self.address = ""  # listener side: the routing key the flow was sent to
        self.route_key: object = None  # which destination this flow counts against
        self.record_id: str | None = None  # listener side: its flow record, for collectors
        self.watcher: Watcher | None = None  # listener side: its HTTP observer, if any
        # Listener side: what the client sent while no backend has answered, so that a
        # flow released before reaching any backend can go to another one (None: too much)
        self.replay: list[bytes] | None = [] if side == "listener" else None
        self.replay_size = 0
        self.retries = 0
        self.tried: set[object] = set()  # destinations (or connectors) that released it
        # what `flows` shows of it: bytes from and to its socket, when it started and
        # when its socket got the first byte (listener side: the reply's latency)
        self._clock = clock
        self.started_at = clock()
        self.first_out_at = 0.0
        self.first_in_at = 0.0  # when its socket gave the first byte
        self.bytes_in = 0
        self.bytes_out = 0
        counters.connections_opened += 1
        counters.active.add(flow_id)

    @property
    def closed(self) -> bool:
        return self.state is FlowState.CLOSED

    @property
    def socket_ready(self) -> bool:
        return self.state is not FlowState.DIALLING

    @property
    def read_closed(self) -> bool:
        return self.state in _READ_CLOSED

    def reply_latency(self) -> float | None:
        """A client's flow: seconds from its connect to the first byte of the reply."""
        replied = self.side == "listener" and self.first_out_at
        return self.first_out_at - self.started_at if replied else None

    def _move(self, target: FlowState) -> None:
        if target not in _MOVES[self.state]:
            raise AssertionError(f"flow {self.flow_id}: {self.state.value} -> {target.value}")
        self.state = target

    # --- socket events -------------------------------------------------------------------

    def socket_data(self, data: bytes) -> None:
        outbound = self.outbound
        if outbound is None:
            if self.replay is None:
                return
            # else it waits to be sent again: the replay keeps what arrives meanwhile
        elif outbound.finished:
            return
        self.counters.bytes_in += len(data)
        if not self.bytes_in:
            self.first_in_at = self._clock()
        self.bytes_in += len(data)
        if self.watcher is not None:
            self._watch(True, data)
        if self.replay is not None:
            self._keep_for_replay(data)
        if outbound is None:
            return
        outbound.write(data)
        if not self.paused and outbound.sent - outbound.offset_acked >= WINDOW:
            self.paused = True
            self.emit(cmd.PauseTcp(self.flow_id))

    def socket_eof(self) -> None:
        if self.state is FlowState.OPEN:
            self._move(FlowState.READ_CLOSED)
        elif self.state is FlowState.WRITE_CLOSED:
            self._move(FlowState.SHUT)
        if self.outbound is not None:
            self.outbound.finish()
        self._check_done()

    def socket_connected(self, outbound: Outbound) -> None:
        """Connector side: the backend answered; the reply stream starts now."""
        if self.state is FlowState.DIALLING:
            self._move(FlowState.OPEN)
        self.outbound = self.reply = outbound
        pending, self.pending = self.pending, []
        for data in pending:
            self._write_socket(data)
        if self.inbound is not None and self.inbound.ended:
            self._inbound_ended()

    def socket_failed(self) -> None:
        """The socket failed or was reset: abort both directions."""
        if self.outbound is not None:
            self.outbound.abort()
        if self.inbound is not None:
            self.inbound.complete(MODIFIED)
        self._close(abort=True)

    def socket_write_paused(self, paused: bool) -> None:
        self.write_paused = paused
        if not paused and self.inbound is not None:
            self.inbound.progress(self.taken, force=True)

    def socket_took(self, size: int) -> None:
        """The transport took ``size`` bytes. Only these are acknowledged, once it is not
        paused: acknowledging bytes when they were handed over let a whole window more
        arrive before the pause was known, so a stalled reader cost two windows."""
        self.taken += size
        if not self.write_paused and self.inbound is not None:
            self.inbound.progress(self.taken)

    # --- stream events (StreamOwner) -------------------------------------------------------

    def stream_acked(self, offset: int) -> None:
        outbound = self.outbound
        if self.paused and outbound is not None and outbound.sent - offset < WINDOW:
            self.paused = False
            self.emit(cmd.ResumeTcp(self.flow_id))

    def stream_outcome(self, outcome: int) -> None:
        if self.outbound is not None:
            self.outbound.settle()
        unsent = outcome in (RELEASED, UNDELIVERABLE_HERE)
        if unsent and self.inbound is None and not self.closed:
            # No backend took it and none has seen a byte: it may go again, else a clean end.
            if self.replay is not None and self._on_released(self, outcome):
                return
            self._close(abort=False)
            return
        if outcome != ACCEPTED:
            # The far end could not deliver (backend refused, path lost): end the client.
            if self.inbound is not None:
                self.inbound.complete(MODIFIED)
            self._close(abort=True)
        else:
            self._check_done()

    def stream_data(self, data: bytes) -> None:
        if not self.socket_ready:
            self.pending.append(data)
            return
        if self.reply is not None and not self.reply.peer_spoke():
            self.reply = None  # a reply held for a skupper-router went, or never waited
        self._write_socket(data)

    def stream_end(self, aborted: bool) -> None:
        if aborted:
            if self.outbound is not None:
                self.outbound.abort()
            self._close(abort=True)
            return
        if self.socket_ready:
            self._inbound_ended()

    def give_back(self) -> None:
        """Connector side: no backend could be reached; the request goes back unprocessed,
        for another destination to take."""
        if self.inbound is not None:
            self.inbound.complete(UNDELIVERABLE_HERE)
        self.pending = []
        self._close(abort=False)

    def close_unsent(self) -> None:
        """Listener side: no destination took the request; the client gets a clean close."""
        self._close(abort=False)

    def move_to(self, counters: TcpCounters) -> None:
        """Connector side: the flow is redialled at another connector (``counters``)."""
        self.counters.connections_closed += 1
        self.counters.active.discard(self.flow_id)
        self.counters = counters
        counters.connections_opened += 1
        counters.active.add(self.flow_id)

    # --- internals ------------------------------------------------------------------------

    def _watch(self, from_client: bool, data: bytes) -> None:
        try:
            self.watcher = self.watcher.data(from_client, data)  # type: ignore[union-attr]
        except Exception as error:  # an observer's fault must never cost the flow a byte
            self.watcher = None
            why = f"{type(error).__name__}: {error}"
            self.emit(cmd.Log("warning", "tcp", f"flow {self.flow_id}: observer stopped: {why}"))

    def _keep_for_replay(self, data: bytes) -> None:
        if self.inbound is not None or self.replay_size + len(data) > REPLAY_LIMIT:
            self.replay = None  # a backend answered, or too much to keep: no second try
            return
        self.replay.append(data)  # type: ignore[union-attr]
        self.replay_size += len(data)

    def _write_socket(self, data: bytes) -> None:
        if self.closed:
            return
        self.counters.bytes_out += len(data)
        if not self.bytes_out:
            self.first_out_at = self._clock()
        self.bytes_out += len(data)
        if self.watcher is not None:
            self._watch(False, data)
        self.emit(cmd.SendTcp(self.flow_id, data))

    def _inbound_ended(self) -> None:
        if self.state in (FlowState.OPEN, FlowState.READ_CLOSED):
            self._move(FlowState.WRITE_CLOSED if self.state is FlowState.OPEN else FlowState.SHUT)
            self.emit(cmd.ShutdownTcp(self.flow_id))
            if self.inbound is not None:
                self.inbound.complete(ACCEPTED)
        self._check_done()

    def _check_done(self) -> None:
        outbound = self.outbound
        if self.state is FlowState.SHUT and outbound is not None and outbound.finished:
            self._close(abort=False)

    def _close(self, *, abort: bool) -> None:
        if self.closed:
            return
        self._move(FlowState.CLOSED)
        self.emit(cmd.CloseTcp(self.flow_id, abort=abort))
        self.counters.connections_closed += 1
        self.counters.active.discard(self.flow_id)
        self._on_closed(self)
