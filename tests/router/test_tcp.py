"""A TCP flow's side of the stream window (``router/tcp.py``), without sockets: what it
acknowledges is what its socket's transport took, never what is still on the way to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from skupper_podman.router import commands as cmd
from skupper_podman.router.streams import ACK_STEP
from skupper_podman.router.tcp import TcpCounters, TcpFlow


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
