"""A delivery passing through a router in the middle of a path: the inbound stream from
one hop joined to the outbound stream to the next, bytes, window progress and outcomes
passed through."""

from __future__ import annotations

from .streams import Inbound, Outbound


class Forwarder:
    """A delivery passing through this router: inbound from one hop, outbound to the next."""

    __slots__ = ("inbound", "outbound", "reply")

    def __init__(self) -> None:
        self.inbound: Inbound | None = None
        self.outbound: Outbound | None = None
        # a request from a skupper-router: the reply passing back to it, held until its
        # listener side has it (which the request's next bytes show)
        self.reply: Outbound | None = None

    def stream_data(self, data: bytes) -> None:
        if self.reply is not None and not self.reply.peer_spoke():
            self.reply = None
        if self.outbound is not None:
            self.outbound.write(data)

    def stream_end(self, aborted: bool) -> None:
        if self.outbound is None:
            return
        if aborted:
            self.outbound.abort()
        else:
            self.outbound.finish()

    def stream_acked(self, offset: int) -> None:
        if self.inbound is not None:
            self.inbound.progress(offset, force=True)

    def stream_outcome(self, outcome: int) -> None:
        if self.outbound is not None:
            self.outbound.settle()
        if self.inbound is not None:
            self.inbound.complete(outcome)
