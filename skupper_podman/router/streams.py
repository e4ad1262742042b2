"""Streamed deliveries: one direction of a TCP flow as one unsettled AMQP delivery.

An ``OutboundStream`` is a delivery this router sends (header bytes, then raw stream
bytes appended as they come); an ``InboundStream`` (``inbound_stream``) is one it
receives. Toward a skupper-router, the streams of a connection also share a budget of
bytes it may hold unread (``send_budget``). Flow control is
end to end: the receiving end reports the body bytes it has passed on with a non-terminal
RECEIVED disposition whose section_offset is that count, and the sending end stops
taking bytes while more than ``WINDOW`` of them are unacknowledged (``local_streams``:
both ends on one router).

Stream endpoints report to an owner (a TCP flow, or a forwarder between two hops)
through the ``StreamOwner`` callbacks.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

from proton import Disposition, Link

from .proton_deliveries import DeliveryHandle
from .send_budget import SendBudget

WINDOW = 1024 * 1024
ACK_STEP = 256 * 1024
FIRST_BURST = 64 * 1024  # sent before the receiver has taken a delivery
SETTLE_PAUSE = 0.05  # seconds a skupper-router's listener side gets to take a reply

RECEIVED = Disposition.RECEIVED
ACCEPTED = Disposition.ACCEPTED
MODIFIED = Disposition.MODIFIED
RELEASED = Disposition.RELEASED
REJECTED = Disposition.REJECTED
# AMQP modified with delivery-failed and undeliverable-here: not processed, and not to come
# back to this destination (no backend of it answered); another one may take it. On the
# wire it is MODIFIED with those two fields; this value names it inside the router.
UNDELIVERABLE_HERE = -int(Disposition.MODIFIED)


class StreamOwner(Protocol):
    def stream_acked(self, offset: int) -> None:
        """The far end passed on ``offset`` bytes of what we sent."""

    def stream_outcome(self, outcome: int) -> None:
        """The far end settled what we sent (ACCEPTED, MODIFIED, UNDELIVERABLE_HERE,
        RELEASED, REJECTED)."""

    def stream_data(self, data: bytes) -> None:
        """Body bytes arrived on the inbound stream."""

    def stream_end(self, aborted: bool) -> None:
        """The inbound stream is complete (or was aborted by the sender)."""


class _NoOwner:
    """The owner of a stream nobody reads: a refused delivery still arriving, or a stream
    that is done. A done stream drops its owner, which holds it in turn: that cycle kept
    every flow's objects (the flow, its streams, their deliveries and callbacks) for the
    garbage collector, whose passes over them cost several percent of a router's time
    under connection churn and paused it for tens of milliseconds."""

    def stream_acked(self, offset: int) -> None:
        pass

    def stream_outcome(self, outcome: int) -> None:
        pass

    def stream_data(self, data: bytes) -> None:
        pass

    def stream_end(self, aborted: bool) -> None:
        pass


NO_OWNER = _NoOwner()


class Outbound(Protocol):
    sent: int
    offset_acked: int
    finished: bool

    def write(self, data: bytes) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...
    def settle(self) -> None: ...
    def peer_spoke(self) -> bool: ...


class Inbound(Protocol):
    ended: bool

    def progress(self, offset: int, *, force: bool = False) -> None: ...
    def complete(self, outcome: int) -> None: ...


class StreamStart(enum.Enum):
    """When the bytes of a new stream beyond its first ones go out.

    skupper-router moves a stream's first bytes into ordinary message buffers and, once
    its TCP side is ready (the backend answered, or the listener took the reply), switches
    the message to a cut-through ring. A buffer that arrives while it switches is never
    written out: bytes vanish from the middle of the stream (20,736 of 1 MiB, seen in
    ``ours-ours-sk``). So a receiver that is a skupper-router gets nothing while it may be
    switching: ``REPLY`` and ``SETTLED``. Our own receivers take bytes at any time.
    """

    TAKEN = "taken"  # FIRST_BURST at once; the rest when the credit shows it was taken
    REPLY = "reply"  # a request: the header alone, the rest once its reply passes here
    SETTLED = "settled"  # a reply: the header alone (skupper-router's listener side sends
    # the request's bytes only once it has the reply), the rest once the credit shows the
    # delivery taken and then request bytes arrive (its listener side has the reply), or
    # SETTLE_PAUSE after the credit (a client that waits for the server to speak first)


class OutboundStream:
    """A streamed delivery on a sender link; bytes are appended until finish().

    Until the receiver shows it has taken the delivery (its credit flow for the link
    counts it), at most ``FIRST_BURST`` bytes go out; the rest is held. skupper-router
    arms its reader for a delivery only after routing it: when the first burst fills its
    buffer ring before that, nothing wakes the reader again and the stream stalls.
    ``start`` says when held bytes go (``StreamStart``); at the latest ``release_held``
    lets them go after ``outbound_streams.HOLD_LIMIT``.
    """

    __slots__ = (
        "allowance",
        "budget",
        "delivery",
        "finish_held",
        "finished",
        "go_at",
        "held",
        "link",
        "notify",
        "offset_acked",
        "on_done",
        "on_hold",
        "owner",
        "sent",
        "settled",
        "start",
        "start_credit",
        "waiting",
        "wire_sent",
    )

    def __init__(
        self,
        link: Link,
        delivery: DeliveryHandle,
        header: bytes,
        owner: StreamOwner,
        notify: Callable[[], None],
        on_done: Callable[[OutboundStream], None],
        on_hold: Callable[[OutboundStream], None],
        start: StreamStart = StreamStart.TAKEN,
        budget: SendBudget | None = None,
    ) -> None:
        self.link = link
        self.owner = owner
        self.notify = notify  # the connection has output to transmit
        self.on_done = on_done  # called once when the delivery is settled (link reusable?)
        self.on_hold = on_hold  # called once when bytes start waiting for the receiver
        self.delivery = delivery
        delivery.attributes["stream"] = self
        self.sent = 0
        self.offset_acked = 0
        self.finished = False
        self.settled = False
        self.start = start
        self.start_credit = link.credit
        self.allowance = FIRST_BURST if start is StreamStart.TAKEN else 0
        self.held: list[bytes] | None = []  # None once the receiver has taken the delivery
        self.finish_held = False
        self.go_at = 0.0  # SETTLED: when the held bytes go
        self.budget = budget  # toward a skupper-router: its connection's (send_budget)
        self.waiting: list[bytes] | None = None  # bytes waiting for the budget
        self.wire_sent = 0  # with a budget: bytes sent on the delivery
        delivery.send(header)

    def write(self, data: bytes) -> None:
        if self.settled:
            return  # the far end already settled it (e.g. its client went away): drop
        self.sent += len(data)
        held = self.held
        if held is None:
            if self.budget is None:
                self.delivery.send(data)
            else:
                self._send(data)
        elif not held and len(data) <= self.allowance:
            self.allowance -= len(data)
            self._send(data)
        elif self.start is StreamStart.TAKEN and self.taken_by_peer:
            self.held = None
            for earlier in held:  # what waited goes first: dropping it lost bytes mid-stream
                self._send(earlier)
            self._send(data)
        else:
            self._hold(held, data)
            return
        self.notify()

    def _send(self, data: bytes) -> None:
        """Bytes onto the delivery, or after the bytes waiting for the budget."""
        budget = self.budget
        if budget is not None:
            if self.waiting is not None:
                self.waiting.append(data)
                return
            if not budget.take(len(data)):
                self.waiting = [data]
                budget.wait(self)
                return
            self.wire_sent += len(data)
        self.delivery.send(data)

    def send_waiting(self) -> None:
        """The budget lets this stream's waiting bytes go."""
        waiting, self.waiting, budget = self.waiting, None, self.budget
        assert budget is not None  # only a stream with a budget has bytes waiting for it
        if waiting and not self.settled:
            for data in waiting:
                budget.spend(len(data))
                self.wire_sent += len(data)
                self.delivery.send(data)
            self._finish_if_held()
            self.notify()

    def _finish_if_held(self) -> None:
        """The end that waited for held bytes goes once none is left."""
        if self.finish_held and not self.held and self.waiting is None:
            self.finish_held = False
            self.link.advance()

    def _hold(self, held: list[bytes], data: bytes) -> None:
        if self.allowance:
            self._send(data[: self.allowance])
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

    def may_go(self, now: float) -> bool:
        """Whether held bytes may go now, by ``start`` (``release_held`` asks)."""
        if not self.start_credit:
            self.start_credit = self.link.credit  # a new link's first grant
            return False
        if self.start is StreamStart.TAKEN:
            return self.taken_by_peer
        if self.start is StreamStart.SETTLED and self.taken_by_peer:
            self.go_at = self.go_at or now + SETTLE_PAUSE
            return now >= self.go_at
        return False

    def peer_spoke(self) -> bool:
        """Bytes came the other way: a skupper-router's listener side sends the request's
        bytes only once it has taken this reply, so the reply's held bytes may go. Whether
        it still waits for that (else its caller need not tell it again)."""
        if self.held is None or self.start is not StreamStart.SETTLED:
            return False
        if self.taken_by_peer:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Send what was held: the receiver took the delivery (or was given time to)."""
        held, self.held = self.held, None
        if held:
            for data in held:
                self._send(data)
            self._finish_if_held()
            self.notify()

    def finish(self) -> None:
        if not self.finished and not self.settled:
            self.finished = True
            if self.held or self.waiting is not None:
                self.finish_held = True
                return
            self.link.advance()
            self.notify()

    def abort(self) -> None:
        self.held = self.waiting = None
        if not self.finished and not self.settled:
            self.delivery.abort()
            self.notify()
        self.finished = True
        self._done()

    def settle(self) -> None:
        self.held = self.waiting = None
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
            let_go(self.delivery)
            self.owner = NO_OWNER  # nothing more is told: see _NoOwner
            if self.budget is not None:
                self.budget.forget(self, self.wire_sent - self.offset_acked)
            self.on_done(self)

    def on_update(self) -> None:
        """The peer updated the delivery's disposition: window progress or an outcome."""
        if self.held is not None and self.start is StreamStart.TAKEN:
            self.release()
        delivery = self.delivery
        state = delivery.remote_state
        if state == RECEIVED:
            offset = delivery.remote_section_offset
            if offset > self.offset_acked:
                acked, self.offset_acked = offset - self.offset_acked, offset
                self.owner.stream_acked(offset)
                if self.budget is not None:
                    self.budget.acked(acked)
        elif (state or delivery.settled) and not self.settled:  # .settled: by the peer
            if state == MODIFIED and delivery.remote_undeliverable:
                state = UNDELIVERABLE_HERE
            self.owner.stream_outcome(state or ACCEPTED)


SETTLED_HERE = "settled here"  # a delivery's "stream" once its stream settled it


def let_go(delivery: DeliveryHandle) -> None:
    """A settled stream's delivery no longer names it. The delivery's attributes live in
    proton's C record, which the stream's own handle keeps alive: a cycle through C that
    Python's collector cannot see, and every flow's objects stayed (about 6 KiB a flow)."""
    delivery.attributes["stream"] = SETTLED_HERE
