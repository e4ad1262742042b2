"""A streamed delivery this router receives: one direction of a TCP flow from another
router, its body bytes handed to an owner (``streams`` has the sending end and the window
both ends keep)."""

from __future__ import annotations

from collections.abc import Callable

from .proton_deliveries import DeliveryHandle
from .streams import ACK_STEP, NO_OWNER, UNDELIVERABLE_HERE, StreamOwner, let_go


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
        delivery: DeliveryHandle,
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
        delivery.attributes["stream"] = self

    def progress(self, offset: int, *, force: bool = False) -> None:
        if self.settled or offset <= self.acked:
            return
        if force or offset - self.acked >= ACK_STEP:
            self.acked = offset
            self.delivery.received(offset)
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
            if outcome == UNDELIVERABLE_HERE:
                self.delivery.undeliverable_here()
            else:
                self.delivery.update(outcome)
            self.delivery.settle()
            self.forget()
            self.owner = NO_OWNER  # ended too: nothing more is told (see _NoOwner)
            self.notify()
            self.on_settled(self)

    def settle_aborted(self) -> None:
        """The sender aborted the delivery: settled without an outcome."""
        self.settled = True
        self.delivery.settle()  # settling the current delivery also advances the link
        self.forget()

    def forget(self) -> None:
        """Settled here, or its link is gone: its delivery no longer names it."""
        let_go(self.delivery)
