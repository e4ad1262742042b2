"""HTTP/2 read both ways (RFC 9113), sans-I/O: frames are walked, header blocks decoded
with ``hpack`` (each direction's decoder must see every block to keep its table), the
frames that carry them parsed by ``hyperframe``; DATA payloads are counted and skipped,
never held. Each stream is one exchange."""

from __future__ import annotations

import hpack
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import Frame

from .http_observer import HTTP2_PREFACE, Exchange, Exchanges, first_forwarded_for

DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, CONTINUATION = 0x0, 0x1, 0x3, 0x4, 0x5, 0x9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
HEADER_TABLE_SIZE = 0x1
FRAME_HEADER = 9
FRAME_MAX = 1 << 20  # a non-DATA frame larger than this is not observed
STREAMS_MAX = 1000  # streams observed at once on one connection


class NotHttp2(Exception):
    pass


class _Direction:
    __slots__ = (
        "block",
        "block_end_stream",
        "block_stream",
        "buffer",
        "decoder",
        "from_client",
        "preface_left",
        "skip",
        "skip_end_stream",
        "skip_stream",
    )

    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.preface_left = len(HTTP2_PREFACE) if from_client else 0
        self.buffer = bytearray()
        self.decoder = hpack.Decoder()
        self.skip = 0  # DATA payload bytes still to come
        self.skip_stream = 0
        self.skip_end_stream = False
        self.block: bytearray | None = None  # a header block awaiting its CONTINUATION
        self.block_stream = 0  # 0: the block is a PUSH_PROMISE's (decoded, not observed)
        self.block_end_stream = False


class Http2Observer:
    def __init__(self, exchanges: Exchanges) -> None:
        self._exchanges = exchanges
        self._client = _Direction(True)
        self._server = _Direction(False)
        self._streams: dict[int, Exchange] = {}
        self._active = True

    def data(self, from_client: bool, data: bytes) -> Http2Observer | None:
        if not self._active:
            return None
        direction = self._client if from_client else self._server
        try:
            self._read(direction, data)
        except (NotHttp2, HyperframeError, hpack.HPACKError, ValueError):
            self.end()
        return self if self._active else None

    def end(self) -> None:
        self._active = False
        for stream in self._streams.values():
            stream.finished()
        self._streams.clear()

    def _read(self, direction: _Direction, data: bytes) -> None:
        if direction.preface_left:
            done = len(HTTP2_PREFACE) - direction.preface_left
            head = data[: direction.preface_left]
            if head != HTTP2_PREFACE[done : done + len(head)]:
                raise NotHttp2("no HTTP/2 connection preface")
            direction.preface_left -= len(head)
            data = data[len(head) :]
        while data:
            if direction.skip:
                taken = min(direction.skip, len(data))
                direction.skip -= taken
                self._data_bytes(direction, taken)
                data = data[taken:] if taken < len(data) else b""
                continue
            direction.buffer += data
            data = self._frames(direction)

    def _frames(self, direction: _Direction) -> bytes:
        """Whole frames from the buffer; a DATA frame's payload is handed back to be
        counted as it comes (what follows it with it)."""
        buffer = direction.buffer
        while len(buffer) >= FRAME_HEADER:
            length = int.from_bytes(buffer[:3], "big")
            kind, flags = buffer[3], buffer[4]
            stream_id = int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            if kind == DATA:
                del buffer[:FRAME_HEADER]
                direction.skip, direction.skip_stream = length, stream_id
                direction.skip_end_stream = bool(flags & END_STREAM)
                if length == 0:
                    self._data_bytes(direction, 0)
                rest = bytes(buffer)
                buffer.clear()
                return rest
            if length > FRAME_MAX:
                raise NotHttp2("a frame too large to observe")
            if len(buffer) < FRAME_HEADER + length:
                break
            frame, _ = Frame.parse_frame_header(memoryview(bytes(buffer[:FRAME_HEADER])))
            frame.parse_body(memoryview(bytes(buffer[FRAME_HEADER : FRAME_HEADER + length])))
            del buffer[: FRAME_HEADER + length]
            self._frame(direction, kind, flags, stream_id, frame)
        return b""

    def _frame(
        self, direction: _Direction, kind: int, flags: int, stream_id: int, frame: Frame
    ) -> None:
        if kind in (HEADERS, PUSH_PROMISE):
            direction.block = bytearray(frame.data)  # type: ignore[attr-defined]
            direction.block_stream = stream_id if kind == HEADERS else 0
            direction.block_end_stream = bool(flags & END_STREAM) and kind == HEADERS
        elif kind == CONTINUATION:
            if direction.block is None:
                raise NotHttp2("a CONTINUATION without a header block")
            direction.block += frame.data  # type: ignore[attr-defined]
        elif kind == RST_STREAM:
            stream = self._streams.pop(stream_id, None)
            if stream is not None:
                stream.finished()
            return
        elif kind == SETTINGS and not flags & ACK:
            size = frame.settings.get(HEADER_TABLE_SIZE)  # type: ignore[attr-defined]
            if size is not None:  # what the other side's encoder may now use
                other = self._server if direction.from_client else self._client
                other.decoder.max_allowed_table_size = size
            return
        else:
            return
        if flags & END_HEADERS and direction.block is not None:
            block, direction.block = bytes(direction.block), None
            headers = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in direction.decoder.decode(block, raw=True)
            }
            if direction.block_stream:
                self._headers(direction, direction.block_stream, headers)

    def _headers(self, direction: _Direction, stream_id: int, headers: dict[str, str]) -> None:
        stream = self._streams.get(stream_id)
        if direction.from_client:
            if stream is None and ":method" in headers and len(self._streams) < STREAMS_MAX:
                forwarded = first_forwarded_for(headers.get("x-forwarded-for", ""))
                method = headers[":method"]
                exchange = self._exchanges.request("HTTP/2", method, stream_id, forwarded)
                stream = self._streams[stream_id] = exchange
        elif stream is not None and ":status" in headers:
            stream.answered(int(headers[":status"]), "")
        if stream is not None and direction.block_end_stream:
            self._side_done(direction, stream_id)

    def _data_bytes(self, direction: _Direction, size: int) -> None:
        stream = self._streams.get(direction.skip_stream)
        if stream is not None and size:
            stream.body(direction.from_client, size)
        if direction.skip == 0 and direction.skip_end_stream:
            self._side_done(direction, direction.skip_stream)

    def _side_done(self, direction: _Direction, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if stream.message_done(direction.from_client):
            del self._streams[stream_id]
