"""Streamed deliveries: one direction of a TCP flow as one unsettled AMQP delivery.

An ``OutboundStream`` is a delivery this router sends (header bytes, then raw stream
bytes appended as they come); an ``InboundStream`` is one it receives. Flow control is
end to end: the receiving end reports the body bytes it has passed on with a non-terminal
RECEIVED disposition whose section_offset is that count, and the sending end stops
taking bytes while more than ``WINDOW`` of them are unacknowledged. ``LocalStream`` plays
both roles for a flow whose listener and connector are on the same router.

Stream endpoints report to an owner (a TCP flow, or a forwarder between two hops)
through the ``StreamOwner`` callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from proton import Delivery, Disposition, Link

WINDOW = 1024 * 1024
ACK_STEP = 256 * 1024

ACCEPTED = Disposition.ACCEPTED
MODIFIED = Disposition.MODIFIED
RELEASED = Disposition.RELEASED
REJECTED = Disposition.REJECTED


class StreamOwner(Protocol):
    def stream_acked(self, offset: int) -> None:
        """The far end passed on ``offset`` bytes of what we sent."""

    def stream_outcome(self, outcome: int) -> None:
        """The far end settled what we sent (ACCEPTED, MODIFIED, RELEASED, REJECTED)."""

    def stream_data(self, data: bytes) -> None:
        """Body bytes arrived on the inbound stream."""

    def stream_end(self, aborted: bool) -> None:
        """The inbound stream is complete (or was aborted by the sender)."""


class Outbound(Protocol):
    sent: int
    offset_acked: int
    finished: bool

    def write(self, data: bytes) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...
    def settle(self) -> None: ...


class Inbound(Protocol):
    ended: bool

    def progress(self, offset: int, *, force: bool = False) -> None: ...
    def complete(self, outcome: int) -> None: ...


class OutboundStream:
    """A streamed delivery on a sender link; bytes are appended until finish()."""

    __slots__ = (
        "delivery",
        "finished",
        "link",
        "notify",
        "offset_acked",
        "on_done",
        "owner",
        "sent",
        "settled",
    )

    def __init__(
        self,
        link: Link,
        tag: str,
        header: bytes,
        owner: StreamOwner,
        notify: Callable[[], None],
        on_done: Callable[[OutboundStream], None],
    ) -> None:
        self.link = link
        self.owner = owner
        self.notify = notify  # the connection has output to transmit
        self.on_done = on_done  # called once when the delivery is settled (link reusable?)
        self.delivery: Delivery = link.delivery(tag)
        self.delivery.stream = self
        self.sent = 0
        self.offset_acked = 0
        self.finished = False
        self.settled = False
        link.send(header)

    def write(self, data: bytes) -> None:
        if self.settled:
            return  # the far end already settled it (e.g. its client went away): drop
        self.sent += len(data)
        self.link.send(data)
        self.notify()

    def finish(self) -> None:
        if not self.finished and not self.settled:
            self.finished = True
            self.link.advance()
            self.notify()

    def abort(self) -> None:
        if not self.finished and not self.settled:
            self.delivery.abort()
            self.notify()
        self.finished = True
        self._done()

    def settle(self) -> None:
        if not self.settled:
            self.delivery.settle()
            self.notify()
            self._done()

    @property
    def clean(self) -> bool:
        """Finished, and accepted by the far end: its link can carry the next stream."""
        return self.finished and self.delivery.remote_state in (0, ACCEPTED)

    def _done(self) -> None:
        if not self.settled:
            self.settled = True
            self.on_done(self)

    def on_update(self) -> None:
        """The peer updated the delivery's disposition: window progress or an outcome."""
        delivery = self.delivery
        state = delivery.remote_state
        if state == Disposition.RECEIVED:
            offset = delivery.remote.section_offset
            if offset > self.offset_acked:
                self.offset_acked = offset
                self.owner.stream_acked(offset)
        elif (state or delivery.settled) and not self.settled:  # .settled: by the peer
            self.owner.stream_outcome(state or ACCEPTED)


class InboundStream:
    """A streamed delivery being received; the core hands its body bytes to the owner."""

    __slots__ = ("acked", "delivery", "ended", "notify", "owner", "settled")

    def __init__(self, delivery: Delivery, owner: StreamOwner, notify: Callable[[], None]) -> None:
        self.delivery = delivery
        self.owner = owner
        self.notify = notify
        self.acked = 0
        self.ended = False
        self.settled = False
        delivery.stream = self

    def progress(self, offset: int, *, force: bool = False) -> None:
        if self.settled or offset <= self.acked:
            return
        if force or offset - self.acked >= ACK_STEP:
            self.acked = offset
            local = self.delivery.local
            local.section_number = 0
            local.section_offset = offset
            self.delivery.update(Disposition.RECEIVED)
            self.notify()

    def complete(self, outcome: int) -> None:
        """Give the outcome; settle now if all of it was received, else when it ends."""
        if not self.settled:
            self.settled = True
            self.delivery.update(outcome)
            if self.ended:
                self.delivery.settle()
            self.notify()


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
