"""Starting streamed deliveries toward other routers, each on a link of its own, and
holding a new stream's bytes back until its receiver can take them (``StreamStart``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from .addressing import Destination
from .connection import RouterConnection
from .fabric import Fabric
from .forwarder import Forwarder
from .message import RA_FLAG_STREAMING, RouterAnnotations, encode_annotations
from .proton_deliveries import DeliveryHandle
from .send_budget import SendBudget
from .streams import OutboundStream, StreamOwner, StreamStart

HOLD_LIMIT = 1.0  # a receiver that never shows it took a delivery gets the rest after this
NEW_STREAM = RouterAnnotations(flags=RA_FLAG_STREAMING)
PAIRING_LIMIT = 1024  # requests remembered before the ended ones are let go


class OutboundStreams:
    def __init__(
        self, fabric: Fabric, mark_dirty: Callable[[int], None], clock: Callable[[], float]
    ) -> None:
        self.fabric = fabric
        self._mark_dirty = mark_dirty
        self._clock = clock
        # requests to a skupper-router, by the address their reply comes to
        self.awaiting_reply: dict[str, OutboundStream] = {}
        # requests passed on from a skupper-router, by the address their reply comes to
        self.requests_from_reference: dict[str, Forwarder] = {}

    def open_stream(
        self, destination: Destination, header: bytes, owner: StreamOwner, reply_to: str = ""
    ) -> OutboundStream | None:
        conn = self.fabric.connection_for(destination)
        if conn is None:
            return None
        return self.stream_on(conn, header, owner, reply_to=reply_to)

    def stream_on(
        self,
        conn: RouterConnection,
        header: bytes,
        owner: StreamOwner,
        received: RouterAnnotations = NEW_STREAM,
        reply_to: str = "",
    ) -> OutboundStream:
        """Start a streamed delivery on a link of its own on ``conn``; ``received``: the
        annotations of the delivery it passes on, when it does; ``reply_to``: where the
        reply of a request goes."""
        annotations = self.fabric.outgoing_annotations(received)
        budget = None
        if conn.peer_is_ours:
            start = StreamStart.TAKEN
        else:
            start = StreamStart.REPLY if reply_to else StreamStart.SETTLED
            budget = conn.send_budget = conn.send_budget or SendBudget(self._clock)
        link = conn.streaming_link()
        stream = OutboundStream(
            link,
            DeliveryHandle.new(link, conn.next_tag()),
            encode_annotations(annotations) + header,
            owner,
            partial(self._mark_dirty, conn.conn_id),
            partial(self._stream_done, conn, reply_to),
            partial(self._held, conn),
            start,
            budget,
        )
        conn.active_streams.add(stream)
        if start is StreamStart.REPLY:
            self.awaiting_reply[reply_to] = stream
        if not stream.start_credit or start is not StreamStart.TAKEN:
            self._held(conn, stream)  # to learn the new link's first grant, or to wait
        self._mark_dirty(conn.conn_id)
        return stream

    def reply_started(self, address: str) -> None:
        """A delivery to ``address`` passes this router: if it is the reply of a request
        held for a skupper-router, that router is ready for the rest of the request."""
        stream = self.awaiting_reply.pop(address, None)
        if stream is not None and stream.held is not None:
            stream.release()

    def pair_reply(
        self, forwarder: Forwarder, address: str, reply_to: str, *, from_ours: bool
    ) -> None:
        """A forwarded request from a skupper-router is remembered until its reply passes
        here; the reply's held bytes then go once the request's next bytes show that the
        skupper-router's listener side has it (``OutboundStream.peer_spoke``)."""
        waiting = self.requests_from_reference
        if reply_to and not from_ours:
            if len(waiting) >= PAIRING_LIMIT:  # requests whose reply went another way
                for key in [k for k, f in waiting.items() if f.inbound is None or f.inbound.ended]:
                    del waiting[key]
            waiting[reply_to] = forwarder
        request = waiting.pop(address, None)
        if request is not None and forwarder.outbound is not None:
            request.reply = forwarder.outbound

    def _held(self, conn: RouterConnection, stream: OutboundStream) -> None:
        conn.held_streams.setdefault(stream, self._clock())

    def _stream_done(self, conn: RouterConnection, reply_to: str, stream: OutboundStream) -> None:
        if reply_to and self.awaiting_reply.get(reply_to) is stream:
            del self.awaiting_reply[reply_to]
        conn.active_streams.discard(stream)
        link = stream.link
        if stream.clean and not conn.closed and link.state & link.LOCAL_ACTIVE:
            conn.idle_streaming_links.append(link)
        elif link.state & link.LOCAL_ACTIVE:
            link.close()


def release_held(conn: RouterConnection, now: float) -> None:
    """Streams whose receiver can take the rest (``StreamStart``), or had HOLD_LIMIT to, go
    on; so do those waiting for the connection's budget, if it has room again."""
    for stream, since in list(conn.held_streams.items()):
        if stream.held is None or now >= since + HOLD_LIMIT or stream.may_go(now):
            del conn.held_streams[stream]
            stream.release()
    if conn.send_budget is not None and conn.send_budget.waiting:
        conn.send_budget.release()


def holds(conn: RouterConnection) -> bool:
    """Whether ``conn`` has streams held or waiting for its budget (a deadline to keep)."""
    budget = conn.send_budget
    return bool(conn.held_streams) or (budget is not None and bool(budget.waiting))


def next_release(conn: RouterConnection) -> float | None:
    """When ``conn``'s held streams, or those waiting for its budget, go on at the latest."""
    deadlines = [
        min(since + HOLD_LIMIT, stream.go_at or since + HOLD_LIMIT)
        for stream, since in conn.held_streams.items()
    ]
    if conn.send_budget is not None and conn.send_budget.waiting:
        deadlines.append(conn.send_budget.next_release())
    return min(deadlines, default=None)
