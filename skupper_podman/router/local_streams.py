"""A stream whose listener and connector are on the same router: no AMQP in between."""

from __future__ import annotations

from .streams import StreamOwner


class LocalStream:
    """Both ends of a stream inside one router: the listener and connector are local."""

    __slots__ = (
        "_backlog",
        "ended",
        "finished",
        "offset_acked",
        "receiver",
        "sender",
        "sent",
        "settled",
    )

    def __init__(self, sender: StreamOwner) -> None:
        self.sender = sender
        self.receiver: StreamOwner | None = None
        self.sent = 0
        self.offset_acked = 0
        self.finished = False
        self.ended = False
        self.settled = False
        self._backlog: list[bytes] = []

    def attach(self, receiver: StreamOwner) -> None:
        self.receiver = receiver
        backlog, self._backlog = self._backlog, []
        for data in backlog:
            receiver.stream_data(data)
        if self.finished:
            self._end(aborted=False)

    # sending side
    def write(self, data: bytes) -> None:
        self.sent += len(data)
        if self.receiver is None:
            self._backlog.append(data)
        else:
            self.receiver.stream_data(data)

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            if self.receiver is not None:
                self._end(aborted=False)

    def abort(self) -> None:
        if not self.finished:
            self.finished = True
            self.settled = True
            if self.receiver is not None:
                self._end(aborted=True)

    def settle(self) -> None:
        self.settled = True

    def peer_spoke(self) -> bool:
        return False  # both ends are here: nothing is held

    def _end(self, *, aborted: bool) -> None:
        if not self.ended and self.receiver is not None:
            self.ended = True
            self.receiver.stream_end(aborted)

    # receiving side
    def progress(self, offset: int, *, force: bool = False) -> None:
        if offset > self.offset_acked:
            self.offset_acked = offset
            self.sender.stream_acked(offset)

    def complete(self, outcome: int) -> None:
        if not self.settled:
            self.settled = True
            self.sender.stream_outcome(outcome)
