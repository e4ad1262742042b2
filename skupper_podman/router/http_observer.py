"""HTTP observation of a client's TCP flow, as skupper-router's protocol observers do it:
the bytes each way are read, never changed, and each request becomes an exchange
(method, status, body bytes, latency) told to whoever keeps them (``http_exchanges.py``).

A listener's ``observer`` says what to look for: ``auto`` (the default, as in
skupper-router) tells HTTP/2 by its connection preface and tries HTTP/1.x otherwise,
``http1`` or ``http2`` looks only for that one, ``none`` looks at nothing. A flow that
turns out not to be HTTP (or leaves it: an upgrade, a CONNECT tunnel, a parse error) is
let go at once and costs nothing more.
"""

from __future__ import annotations

from typing import Protocol

OBSERVERS = ("auto", "none", "http1", "http2")
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Exchange(Protocol):
    """One request and its response, as the parsers see them: they tell it how far they
    read each message."""

    method: str

    def answered(self, status: int, reason: str) -> None:
        """A response head came (1xx ones too: the latency ends at the first)."""

    def whole_response(self, status: int, reason: str, size: int) -> None:
        """A final response and all ``size`` bytes of its body at once."""

    def body(self, from_client: bool, size: int) -> None: ...

    def message_done(self, from_client: bool) -> bool:
        """The request (or the response) is complete; True when both are: the exchange
        has finished."""

    def finished(self) -> None:
        """Both messages are complete, or the flow ended or went opaque first."""


class Exchanges(Protocol):
    def request(self, protocol: str, method: str, stream_id: int, forwarded_for: str) -> Exchange:
        """A request head came (``stream_id`` 0 for HTTP/1.x)."""


class Observer(Protocol):
    def data(self, from_client: bool, data: bytes) -> Observer | None:
        """Read bytes one way; returns who reads the next ones (itself, or the observer
        it handed over to), None once there is nothing more to observe."""

    def end(self) -> None:
        """The flow ended: what is still open ends with it."""


def first_forwarded_for(value: str) -> str:
    """The client X-Forwarded-For names first (its leftmost entry)."""
    return value.split(",", 1)[0].strip()
