"""Which HTTP observer a client's flow gets (a listener's ``observer`` setting), and the
``auto`` one that tells HTTP/2 from HTTP/1.x by the client's first bytes, as
skupper-router's TCP observer does."""

from __future__ import annotations

from .http1_observer import METHOD_MAX, Http1Observer, may_be_request
from .http_observer import HTTP2_PREFACE, Exchanges, Observer

SERVER_HOLD_MAX = 16384  # server bytes held while the client's first bytes say nothing yet


def observer(kind: str, exchanges: Exchanges) -> Observer | None:
    """The observer a listener's ``observer`` setting asks for (None for ``none``)."""
    if kind == "http1":
        return Http1Observer(exchanges)
    if kind == "http2":
        return _http2(exchanges)
    if kind in ("", "auto"):
        return Classifier(exchanges)
    return None


class Classifier:
    """``auto``: waits for the client's first bytes, then hands every byte so far to the
    HTTP/2 observer (the preface matched) or the HTTP/1.x one (which lets go of what is
    not HTTP)."""

    def __init__(self, exchanges: Exchanges) -> None:
        self._exchanges = exchanges
        self._prefix = b""
        self._server: list[bytes] = []
        self._server_size = 0

    def data(self, from_client: bool, data: bytes) -> Observer | None:
        if not from_client:
            self._server_size += len(data)
            self._server.append(data)
            # a server that speaks first and goes on: not HTTP
            return self if self._server_size < SERVER_HOLD_MAX else None
        self._prefix += data
        seen = self._prefix[: len(HTTP2_PREFACE)]
        if HTTP2_PREFACE.startswith(seen) and len(seen) < len(HTTP2_PREFACE):
            return self  # maybe HTTP/2: wait for the whole preface
        inner: Observer
        if seen == HTTP2_PREFACE:
            inner = _http2(self._exchanges)
        elif may_be_request(self._prefix[: METHOD_MAX + 1]):
            inner = Http1Observer(self._exchanges)
        else:
            return None  # not HTTP: nothing more to read
        # what came so far, to the observer that reads from now on
        going: Observer | None = inner.data(True, self._prefix)
        for chunk in self._server:
            if going is None:
                break
            going = going.data(False, chunk)
        self._prefix, self._server = b"", []
        return going

    def end(self) -> None:
        pass  # nothing was observed yet: the inner observer, once there, is ended instead


def _http2(exchanges: Exchanges) -> Observer:
    # imported with the first HTTP/2 flow: hpack and hyperframe cost an idle router 0.7 MB
    from .http2_observer import Http2Observer

    return Http2Observer(exchanges)
