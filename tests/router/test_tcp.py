"""A TCP flow (``router/tcp.py``), without sockets: its states, and its side of the stream
window (what it acknowledges is what its socket's transport took, never what is still on
the way to it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from skupper_podman.router import commands as cmd
from skupper_podman.router.streams import ACK_STEP
from skupper_podman.router.tcp import FlowState, TcpCounters, TcpFlow


@dataclass
class _Inbound:
    ended: bool = False
    acked: list[int] = field(default_factory=list)

    def progress(self, offset: int, *, force: bool = False) -> None:
        if not self.acked or offset > self.acked[-1]:
            self.acked.append(offset)

    def complete(self, outcome: int) -> None:
        self.ended = True


def _flow() -> tuple[TcpFlow, _Inbound, list[cmd.Command]]:
    commands: list[cmd.Command] = []
    flow = TcpFlow(1, commands.append, TcpCounters(), lambda flow: None, socket_ready=True)
    inbound = _Inbound()
    flow.inbound = inbound
    return flow, inbound, commands


def test_bytes_handed_to_the_socket_are_acknowledged_only_once_it_took_them() -> None:
    flow, inbound, commands = _flow()
    for _ in range(4):
        flow.stream_data(b"x" * ACK_STEP)  # a batch of data from the peer, in one go
    assert [type(c) for c in commands] == [cmd.SendTcp] * 4
    assert inbound.acked == []  # nothing has reached the socket yet
    flow.socket_took(ACK_STEP)
    flow.socket_write_paused(True)  # its buffer filled up while taking the first
    flow.socket_took(ACK_STEP)
    flow.socket_took(ACK_STEP)
    flow.socket_took(ACK_STEP)
    assert inbound.acked == [ACK_STEP]  # a stalled reader holds the sender at one window
    flow.socket_write_paused(False)
    assert inbound.acked == [ACK_STEP, 4 * ACK_STEP]


@dataclass
class _Outbound:
    finished: bool = False
    settled: bool = False

    def finish(self) -> None:
        self.finished = True

    def settle(self) -> None:
        self.settled = True


def _state(flow: TcpFlow) -> FlowState:
    return flow.state  # read anew: the type checker would keep the last assertion's state


def test_a_flow_closes_once_both_directions_ended_whichever_ends_first() -> None:
    for read_first in (True, False):
        flow, inbound, commands = _flow()
        flow.outbound = _Outbound()  # type: ignore[assignment]
        assert flow.state is FlowState.OPEN
        if read_first:
            flow.socket_eof()
            assert _state(flow) is FlowState.READ_CLOSED and flow.read_closed
        else:
            flow.stream_end(aborted=False)
            assert _state(flow) is FlowState.WRITE_CLOSED and not flow.read_closed
        assert not flow.closed
        if read_first:
            flow.stream_end(aborted=False)
        else:
            flow.socket_eof()
        assert _state(flow) is FlowState.CLOSED
        kinds = [type(c).__name__ for c in commands]
        assert kinds == ["ShutdownTcp", "CloseTcp"] and inbound.ended


def test_a_dialling_flow_keeps_early_bytes_and_an_illegal_move_is_refused() -> None:
    commands: list[cmd.Command] = []
    flow = TcpFlow(1, commands.append, TcpCounters(), lambda flow: None, socket_ready=False)
    assert flow.state is FlowState.DIALLING and not flow.socket_ready
    flow.stream_data(b"early")
    assert flow.pending == [b"early"] and commands == []
    with pytest.raises(AssertionError, match="dialling -> shut"):
        flow._move(FlowState.SHUT)


def test_an_observer_that_fails_is_dropped_and_the_bytes_go_on() -> None:
    class Broken:
        def data(self, from_client: bool, data: bytes) -> None:
            raise ValueError("a bug")

        def end(self) -> None:
            pass

    flow, _, commands = _flow()
    flow.watcher = Broken()
    flow.stream_data(b"abc")  # the reply's bytes, on their way to the client
    assert flow.watcher is None
    assert [c.data for c in commands if isinstance(c, cmd.SendTcp)] == [b"abc"]
    logs = [c.text for c in commands if isinstance(c, cmd.Log)]
    assert logs == ["flow 1: observer stopped: ValueError: a bug"]
