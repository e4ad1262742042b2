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
FIRST_BURST = 64 * 1024  # sent before the receiver has taken a delivery

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
    """A streamed delivery on a sender link; bytes are appended until finish().

    Until the receiver shows it has taken the delivery (its credit flow for the link
    counts it), at most ``FIRST_BURST`` bytes go out; the rest is held. skupper-router
    arms its reader for a delivery only after routing it: when the first burst fills its
    buffer ring before that, nothing wakes the reader again and the stream stalls.
    """

    __slots__ = (
        "allowance",
        "delivery",
        "finish_held",
        "finished",
        "held",
        "link",
        "notify",
        "offset_acked",
        "on_done",
        "on_hold",
        "owner",
        "sent",
        "settled",
        "start_credit",
    )

    def __init__(
        self,
        link: Link,
        tag: str,
        header: bytes,
        owner: StreamOwner,
        notify: Callable[[], None],
        on_done: Callable[[OutboundStream], None],
        on_hold: Callable[[OutboundStream], None],
    ) -> None:
        self.link = link
        self.owner = owner
        self.notify = notify  # the connection has output to transmit
        self.on_done = on_done  # called once when the delivery is settled (link reusable?)
        self.on_hold = on_hold  # called once when bytes start waiting for the receiver
        self.delivery: Delivery = link.delivery(tag)
        self.delivery.stream = self
        self.sent = 0
        self.offset_acked = 0
        self.finished = False
        self.settled = False
        self.start_credit = link.credit
        self.allowance = FIRST_BURST
        self.held: list[bytes] | None = []  # None once the receiver has taken the delivery
        self.finish_held = False
        link.send(header)

    def write(self, data: bytes) -> None:
        if self.settled:
            return  # the far end already settled it (e.g. its client went away): drop
        self.sent += len(data)
        held = self.held
        if held is None:
            self.link.send(data)
        elif not held and len(data) <= self.allowance:
            self.allowance -= len(data)
            self.link.send(data)
        elif self.taken_by_peer:
            self.held = None
            for earlier in held:  # what waited goes first: dropping it lost bytes mid-stream
                self.link.send(earlier)
            self.link.send(data)
        else:
            self._hold(held, data)
            return
        self.notify()

    def _hold(self, held: list[bytes], data: bytes) -> None:
        if self.allowance:
            self.link.send(data[: self.allowance])
            data = data[self.allowance :]
            self.allowance = 0
            self.notify()
        if not held:
            self.on_hold(self)
        held.append(data)

    @property
    def taken_by_peer(self) -> bool:
        """The receiver's credit for the link counts this delivery: it has routed it.

        While a delivery is being sent, the sender's credit is the receiver's delivery
        count plus the credit it grants, minus ours (which counts the delivery only once
        sent whole): a receiver that took it and gave its credit back shows one more than
        before. ``start_credit`` is 0 on a new link until the receiver's first grant.
        """
        return 0 < self.start_credit < self.link.credit

    def release(self) -> None:
        """Send what was held: the receiver took the delivery (or was given time to)."""
        held, self.held = self.held, None
        if held:
            for data in held:
                self.link.send(data)
            if self.finish_held:
                self.link.advance()
            self.notify()

    def finish(self) -> None:
        if not self.finished and not self.settled:
            self.finished = True
            if self.held:
                self.finish_held = True
                return
            self.link.advance()
            self.notify()

    def abort(self) -> None:
        self.held = None
        if not self.finished and not self.settled:
            self.delivery.abort()
            self.notify()
        self.finished = True
        self._done()

    def settle(self) -> None:
        self.held = None
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
        if self.held is not None:
            self.release()
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

    __slots__ = (
        "acked",
        "delivery",
        "ended",
        "notify",
        "on_settled",
        "outcome",
        "owner",
        "settled",
    )

    def __init__(
        self,
        delivery: Delivery,
        owner: StreamOwner,
        notify: Callable[[], None],
        on_settled: Callable[[InboundStream], None],
    ) -> None:
        self.delivery = delivery
        self.owner = owner
        self.notify = notify
        self.on_settled = on_settled  # the link may take the next delivery
        self.outcome = 0  # the terminal outcome given, once settled
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
        """Give the outcome and settle at once, also while the delivery is still arriving.

        skupper-router does the same: its sender stops at the settlement and frees what it
        still buffers for the delivery, and proton drops the transfers already on the way
        (AMQP 1.0 section 2.6.12). A delivery left unsettled until its end would keep the
        sender streaming into a delivery nobody reads.
        """
        if not self.settled:
            self.settled = True
            self.ended = True
            self.outcome = outcome
            self.delivery.update(outcome)
            self.delivery.settle()
            self.notify()
            self.on_settled(self)


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
