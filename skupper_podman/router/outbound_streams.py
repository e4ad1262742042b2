"""Starting streamed deliveries toward other routers, each on a link of its own, and
holding a new stream's bytes back until its receiver shows it took the delivery."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from .addressing import Destination
from .connection import RouterConnection
from .fabric import Fabric
from .message import RA_FLAG_STREAMING, RouterAnnotations, encode_annotations
from .streams import OutboundStream, StreamOwner

HOLD_LIMIT = 1.0  # a receiver that never shows it took a delivery gets the rest after this
NEW_STREAM = RouterAnnotations(flags=RA_FLAG_STREAMING)


class OutboundStreams:
    def __init__(
        self, fabric: Fabric, mark_dirty: Callable[[int], None], clock: Callable[[], float]
    ) -> None:
        self.fabric = fabric
        self._mark_dirty = mark_dirty
        self._clock = clock

    def open_stream(
        self, destination: Destination, header: bytes, owner: StreamOwner
    ) -> OutboundStream | None:
        conn = self.fabric.connection_for(destination)
        if conn is None:
            return None
        return self.stream_on(conn, header, owner)

    def stream_on(
        self,
        conn: RouterConnection,
        header: bytes,
        owner: StreamOwner,
        received: RouterAnnotations = NEW_STREAM,
    ) -> OutboundStream:
        """Start a streamed delivery on a link of its own on ``conn``; ``received``: the
        annotations of the delivery it passes on, when it does."""
        annotations = self.fabric.outgoing_annotations(received)
        stream = OutboundStream(
            conn.streaming_link(),
            conn.next_tag(),
            encode_annotations(annotations) + header,
            owner,
            partial(self._mark_dirty, conn.conn_id),
            partial(_stream_done, conn),
            partial(self._held, conn),
        )
        conn.active_streams.add(stream)
        if not stream.start_credit:
            self._held(conn, stream)  # to learn the new link's first grant
        self._mark_dirty(conn.conn_id)
        return stream

    def _held(self, conn: RouterConnection, stream: OutboundStream) -> None:
        conn.held_streams.setdefault(stream, self._clock())


def release_held(conn: RouterConnection, now: float) -> None:
    """Streams whose receiver took their delivery, or had HOLD_LIMIT to, go on."""
    for stream, since in list(conn.held_streams.items()):
        if stream.held is not None and not stream.start_credit:
            stream.start_credit = stream.link.credit  # a new link's first grant
            if now < since + HOLD_LIMIT:
                continue
        if stream.held is None or stream.taken_by_peer or now >= since + HOLD_LIMIT:
            del conn.held_streams[stream]
            stream.release()


def next_release(conn: RouterConnection) -> float | None:
    """When ``conn``'s held streams go on at the latest."""
    return min(conn.held_streams.values()) + HOLD_LIMIT if conn.held_streams else None


def _stream_done(conn: RouterConnection, stream: OutboundStream) -> None:
    conn.active_streams.discard(stream)
    link = stream.link
    if stream.clean and not conn.closed and link.state & link.LOCAL_ACTIVE:
        conn.idle_streaming_links.append(link)
    elif link.state & link.LOCAL_ACTIVE:
        link.close()
