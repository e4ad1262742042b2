"""HTTP/1.x read both ways (RFC 9112's message framing), sans-I/O: request and status
lines, the few headers that frame a body, and body bytes counted, not kept.

Not an HTTP library: h11 and llhttp (httptools) are endpoints of one side. An observer
sits between the two and must know what the client asked to frame what the server
answers (a HEAD's response has no body, a CONNECT's 2xx starts a tunnel), which an
endpoint of one side cannot be told. What is not HTTP/1.x fails the first checks (the
method token, "HTTP/") and is let go.
"""

from __future__ import annotations

import enum
import functools
import re
from collections import deque

from .http_observer import Exchange, Exchanges, first_forwarded_for

HEAD_MAX = 65536  # a message head longer than this is not observed
LINE_MAX = 4096  # a chunk-size or trailer line
METHOD_MAX = 32
HEAD_END = re.compile(rb"\r?\n\r?\n")
TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"  # a method is a token (RFC 9110 section 5.6.2)
REQUEST_START = re.compile(TOKEN + rb"{1,%d}( |\Z)" % METHOD_MAX)
REQUEST_LINE = re.compile(b"(" + TOKEN + rb"+) [^ \r\n]+ HTTP/1\.([0-9])\r?\n")
STATUS_LINE = re.compile(rb"HTTP/1\.[0-9] ([0-9]{3})(?: ([^\r\n]*))?\r?\n")
# the only headers read: what frames a body, and who the client is behind a proxy
HEADERS_READ = re.compile(
    rb"\n(content-length|transfer-encoding|x-forwarded-for)[ \t]*:([^\r\n]*)", re.IGNORECASE
)
METHOD_NAMES = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")}


def may_be_request(first_bytes: bytes) -> bool:
    """Whether a connection's first bytes may start an HTTP/1.x request line (a method
    token, then a space); most other protocols fail at the first byte."""
    return REQUEST_START.match(first_bytes) is not None


class NotHttp(Exception):
    """The bytes are not (or no longer) HTTP/1.x."""


class State(enum.IntEnum):
    HEAD = 0  # a message head (or the empty lines before one)
    LENGTH = 1  # a body of Content-Length bytes
    CHUNK_SIZE = 2
    CHUNK_DATA = 3
    CHUNK_END = 4  # the CRLF after a chunk's data
    TRAILER = 5  # trailer lines after the last chunk, until an empty one
    UNTIL_CLOSE = 6  # a response body without length: until the flow ends


# the members by their own names: an Enum's class attribute costs more to look up than
# the rest of a state check (Python 3.11), and data() checks the state at every read
HEAD, LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILER, UNTIL_CLOSE = State
LINE_STATES = frozenset({HEAD, CHUNK_SIZE, CHUNK_END, TRAILER})


class _Direction:
    __slots__ = ("buffer", "from_client", "left", "state")

    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.buffer = bytearray()
        self.state = HEAD
        self.left = 0  # body or chunk bytes still to come


class Http1Observer:
    def __init__(self, exchanges: Exchanges) -> None:
        self._exchanges = exchanges
        self._client = _Direction(True)
        self._server = _Direction(False)
        self._awaiting: deque[Exchange] = deque()  # requests without a final response yet
        self._reading: Exchange | None = None  # whose body the client sends
        self._answering: Exchange | None = None  # whose body the server sends
        self._active = True

    def data(self, from_client: bool, data: bytes) -> Http1Observer | None:
        if not self._active:
            return None
        direction = self._client if from_client else self._server
        try:
            while data and self._active:
                state = direction.state
                if state is HEAD and not direction.buffer:
                    end = data.find(b"\r\n\r\n")  # a whole head in this read: no copy
                    if end > 0 and data[0] not in b"\r\n":
                        if from_client:
                            data = self._request_head(data, end)
                        else:
                            data = self._response_head(data, end)
                        continue
                if state is LENGTH:
                    data = self._length_body(direction, data)
                elif state in LINE_STATES:
                    direction.buffer += data
                    data = self._lines(direction)
                else:
                    data = self._body(direction, data)
        except NotHttp:
            self._stop()
        return self if self._active else None

    def end(self) -> None:
        self._stop()

    # --- framing ----------------------------------------------------------------------------

    def _lines(self, direction: _Direction) -> bytes:
        """Reads what the buffer holds of a line state; returns the bytes after it."""
        buffer = direction.buffer
        if direction.state is HEAD:
            while buffer and buffer[0] in b"\r\n":  # empty lines before a message are allowed
                del buffer[:1]
            found = HEAD_END.search(buffer)
            if found is None:
                self._check_partial_head(direction)
                return b""
            # its lines, the last one's end and the empty line made CRLF
            head = bytes(buffer[: found.start()]) + b"\r\n\r\n"
            rest = bytes(buffer[found.end() :])
            buffer.clear()
            if direction.from_client:
                self._request_head(head, len(head) - 4)
            else:
                self._response_head(head, len(head) - 4)
            return rest
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) > LINE_MAX:
                raise NotHttp("a chunk line too long")
            return b""
        line, rest = bytes(buffer[:end]).rstrip(b"\r"), bytes(buffer[end + 1 :])
        buffer.clear()
        if direction.state is CHUNK_SIZE:
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise NotHttp("a bad chunk size") from None
            direction.state, direction.left = (TRAILER, 0) if size == 0 else (CHUNK_DATA, size)
        elif direction.state is CHUNK_END:
            if line:
                raise NotHttp("a chunk longer than its size")
            direction.state = CHUNK_SIZE
        elif not line:  # the empty line that ends the trailers
            self._message_done(direction)
        return rest

    def _length_body(self, direction: _Direction, data: bytes) -> bytes:
        """Bytes of a body of Content-Length bytes."""
        left, size = direction.left, len(data)
        exchange = self._reading if direction.from_client else self._answering
        if size < left:
            direction.left = left - size
            if exchange is not None:
                exchange.body(direction.from_client, size)
            return b""
        if exchange is not None:
            exchange.body(direction.from_client, left)
        self._message_done(direction)
        return data[left:] if left < size else b""

    def _body(self, direction: _Direction, data: bytes) -> bytes:
        """Bytes of a chunk's data, or of a body that lasts until the flow ends."""
        exchange = self._reading if direction.from_client else self._answering
        if direction.state is UNTIL_CLOSE:
            taken = len(data)
        else:
            taken = min(direction.left, len(data))
            direction.left -= taken
            if direction.left == 0:
                direction.state = CHUNK_END
        if exchange is not None:
            exchange.body(direction.from_client, taken)
        return data[taken:] if taken < len(data) else b""

    def _check_partial_head(self, direction: _Direction) -> None:
        """What is not HTTP is told by its first bytes, not after 64 KiB of them."""
        buffer = direction.buffer
        if len(buffer) > HEAD_MAX:
            raise NotHttp("a message head too long")
        if direction.from_client:
            if not may_be_request(bytes(buffer[: METHOD_MAX + 1])):
                raise NotHttp("not a request line")
        elif not b"HTTP/".startswith(bytes(buffer[:5])):
            raise NotHttp("not a status line")

    # --- messages ---------------------------------------------------------------------------

    def _request_head(self, data: bytes, end: int) -> bytes:
        """The head in ``data`` up to ``end`` (where its empty line starts); returns the
        bytes after it."""
        after = end + 4
        whole = len(data) == after  # the read is the head: most requests without a body
        read = _known_request if end < HEAD_KEPT_MAX else _read_request
        method, protocol, client, length, encoding = read(data if whole else data[:after])
        exchange = self._exchanges.request(protocol, method, 0, client)
        self._awaiting.append(exchange)
        rest = b"" if whole else data[after:]
        if length is None and encoding is None:
            exchange.message_done(True)  # a request without either has no body
            return rest
        self._reading = exchange
        self._frame(self._client, length, encoding, has_body=True)
        return rest

    def _response_head(self, data: bytes, end: int) -> bytes:
        after = end + 4
        whole = len(data) == after
        read = _known_response if end < HEAD_KEPT_MAX else _read_response
        status, reason, length, encoding, body_length = read(data if whole else data[:after])
        if not self._awaiting:
            raise NotHttp("a response to no request")
        exchange = self._awaiting[0]
        if body_length == len(data) - after and exchange.method not in ("HEAD", "CONNECT"):
            # the read is one whole response with its body, as most small ones come
            self._awaiting.popleft()
            exchange.whole_response(status, reason, body_length)
            return b""
        exchange.answered(status, reason)
        rest = b"" if whole else data[after:]
        if status == 101 or (exchange.method == "CONNECT" and 200 <= status < 300):
            self._stop()  # a tunnel from here on: it ends first, the oldest open
            return rest
        if status < 200:
            return rest  # informational: the final response follows
        self._awaiting.popleft()
        has_body = exchange.method != "HEAD" and status not in (204, 304)
        self._answering = exchange
        self._frame(self._server, length, encoding, has_body=has_body)
        return rest

    def _frame(
        self,
        direction: _Direction,
        length: int | None,
        encoding: bytes | None,
        *,
        has_body: bool,
    ) -> None:
        """The framing of the body after a head (RFC 9112 section 6.3)."""
        if not has_body:
            self._message_done(direction)
        elif encoding:
            if encoding.rsplit(b",", 1)[-1].strip().lower() != b"chunked":
                if direction.from_client:
                    raise NotHttp("a request body without a length")
                direction.state = UNTIL_CLOSE
            else:
                direction.state = CHUNK_SIZE
        elif length is not None:
            if length < 0:
                raise NotHttp("a bad Content-Length")
            direction.state, direction.left = LENGTH, length
            if length == 0:
                self._message_done(direction)
        elif direction.from_client:
            self._message_done(direction)  # a request without either has no body
        else:
            direction.state = UNTIL_CLOSE

    def _message_done(self, direction: _Direction) -> None:
        direction.state, direction.left = HEAD, 0
        if direction.from_client:
            exchange, self._reading = self._reading, None
        else:
            exchange, self._answering = self._answering, None
        if exchange is not None:
            exchange.message_done(direction.from_client)

    def _stop(self) -> None:
        """Ends what is still open, oldest first: each exchange is receiving its response's
        body, or awaiting its response, or sending its body (or several of these)."""
        self._active = False
        still_open = dict.fromkeys((self._answering, *self._awaiting, self._reading))
        self._awaiting.clear()
        self._reading = self._answering = None
        for exchange in still_open:
            if exchange is not None:
                exchange.finished()


# What a head says, by its bytes: the heads of one service repeat (the same request
# line and headers, the same response but for its Date), and a look-up costs a fraction
# of reading one. Bounded: the HEADS_KEPT last used heads of up to about HEAD_KEPT_MAX
# bytes (their lines and the empty line, as they came: a read that is one whole head is
# its own key).
HEADS_KEPT = 256
HEAD_KEPT_MAX = 512
RequestHead = tuple[str, str, str, int | None, bytes | None]
ResponseHead = tuple[int, str, int | None, bytes | None, int]


def _read_request(head: bytes) -> RequestHead:
    """(method, protocol, client, Content-Length, Transfer-Encoding) of a request head
    (up to and with the empty line)."""
    length, encoding, forwarded = _framing_headers(head, len(head) - 4)
    line = REQUEST_LINE.match(head)
    if line is None:
        raise NotHttp("not a request line")
    method = METHOD_NAMES.get(line[1]) or line[1].decode("ascii")
    protocol = "HTTP/1.1" if line[2] == b"1" else "HTTP/1.0"
    client = first_forwarded_for(forwarded.decode("latin-1")) if forwarded else ""
    return method, protocol, client, _content_length(length), encoding


def _read_response(head: bytes) -> ResponseHead:
    """(status, reason, Content-Length, Transfer-Encoding, body length) of a response head
    (up to and with the empty line); the body length is Content-Length when that alone
    frames the body of a final response (unless it answers a HEAD or a CONNECT, which
    the request tells), else -1: what a read of one whole response is checked against."""
    length_value, encoding, _ = _framing_headers(head, len(head) - 4)
    line = STATUS_LINE.match(head)
    if line is None:
        raise NotHttp("not a status line")
    code, phrase = line.group(1, 2)
    reason = phrase.decode("latin-1").strip() if phrase else ""
    status, length = int(code), _content_length(length_value)
    final = status >= 200 and status not in (204, 304)
    body_length = length if length is not None and length > 0 and encoding is None and final else -1
    return status, reason, length, encoding, body_length


_known_request = functools.lru_cache(maxsize=HEADS_KEPT)(_read_request)
_known_response = functools.lru_cache(maxsize=HEADS_KEPT)(_read_response)


def _content_length(value: bytes | None) -> int | None:
    """A Content-Length header's value as a number (None: absent, -1: not a number)."""
    if value is None:
        return None
    size = value.split(b",", 1)[0].strip()
    return int(size) if size.isdigit() else -1


def _framing_headers(data: bytes, end: int) -> tuple[bytes | None, bytes | None, bytes | None]:
    """Content-Length, Transfer-Encoding and X-Forwarded-For of the head in ``data`` up to
    ``end`` (the first of each)."""
    length = encoding = forwarded = None
    for name, value in HEADERS_READ.findall(data, 0, end):
        name = name.lower()
        if name == b"content-length":
            length = length or value
        elif name == b"transfer-encoding":
            encoding = encoding or value
        else:
            forwarded = forwarded or value
    return length, encoding, forwarded
