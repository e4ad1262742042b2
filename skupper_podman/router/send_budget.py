"""How many stream bytes a router lets a skupper-router hold unread, per connection.

skupper-router's proton closes a connection whose unread delivery bytes pass 4 MiB
(``amqp:resource-limit-exceeded``), and skupper-router leaves a stream's bytes unread while
the stream's far side lags (64 buffers a stream in the middle of a path, a ring of 7 reads
at its end). With a window of 1 MiB a flow, 32 flows at once through a skupper-router
passed that limit, and the connection and every flow on it were lost
(``docs/skupper-router-interop.md``). So the streams on a connection to a skupper-router
share a budget: bytes sent and not yet acknowledged, counting only those sent in the last
one or two periods (``PERIOD``), stay under ``LIMIT``; a stream over it waits, in turn.

Why only recent bytes: acknowledgements come every 256 KiB (our receivers) or 512 KiB
(skupper-router's) passed on, so a keep-alive flow keeps up to that much unacknowledged for
as long as it is quiet, although its bytes were read long ago; fifty such flows would fill
any budget, and every request would wait. Bytes older than two periods are counted as read:
skupper-router, reading at tens of MB/s at least, empties ``LIMIT`` far sooner. And so a
waiting stream never waits longer than two periods in which nothing was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

LIMIT = 5 * 512 * 1024  # with one stream's window (1 MiB) over it: still under 4 MiB
PERIOD = 0.05  # seconds


class WaitingStream(Protocol):
    def send_waiting(self) -> None:
        """Send every byte that waited for the budget (at most one window of them)."""


class SendBudget:
    """The budget of one connection; its waiting streams go oldest first."""

    __slots__ = ("_clock", "_earlier", "_period_end", "_recent", "unacked", "waiting")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.unacked = 0  # sent on the connection's streams and not acknowledged
        self._recent = 0  # sent in the current period
        self._earlier = 0  # sent in the period before it
        self._period_end = 0.0
        self.waiting: dict[WaitingStream, None] = {}  # in the order they began to wait

    @property
    def counted(self) -> int:
        """The bytes the skupper-router may not have read yet."""
        return min(self.unacked, self._recent + self._earlier)

    def take(self, size: int) -> bool:
        """Whether ``size`` more bytes may go now (counted if so). Not while others wait:
        they go first."""
        if self.waiting:
            return False
        self._next_period(self._clock())
        counted = self.counted
        if counted and counted + size > LIMIT:
            return False
        self.spend(size)
        return True

    def spend(self, size: int) -> None:
        """``size`` bytes went without asking (a waiting stream let go)."""
        self.unacked += size
        self._recent += size

    def wait(self, stream: WaitingStream) -> None:
        self.waiting[stream] = None

    def acked(self, size: int) -> None:
        """The far end acknowledged ``size`` more bytes, or they were dropped."""
        self.unacked -= size
        if self.waiting:
            self.release()

    def forget(self, stream: WaitingStream, unacked: int) -> None:
        """A stream ended: it waits no more, and its unacknowledged bytes are let go."""
        self.waiting.pop(stream, None)
        self.acked(unacked)

    def release(self) -> None:
        """Waiting streams go, oldest first, while the budget has room (the last one let go
        may pass the limit by what it held: at most its window)."""
        self._next_period(self._clock())
        waiting = self.waiting
        while waiting and self.counted < LIMIT:
            stream = next(iter(waiting))
            del waiting[stream]
            stream.send_waiting()

    def next_release(self) -> float | None:
        """When waiting streams may go at the latest (a period later, counted bytes age)."""
        return self._period_end if self.waiting else None

    def _next_period(self, now: float) -> None:
        if now >= self._period_end:
            self._earlier = self._recent if now < self._period_end + PERIOD else 0
            self._recent = 0
            self._period_end = now + PERIOD
