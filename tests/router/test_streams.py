"""The start gates of an outbound stream (``router/streams.py``), without sockets: bytes
held until the receiver can take them all go out, in order, and never earlier."""

from __future__ import annotations

from skupper_podman.router.streams import (
    FIRST_BURST,
    SETTLE_PAUSE,
    StreamStart,
)
from tests.router.stream_fakes import RecordingLink, outbound_stream


def test_held_bytes_go_out_before_what_comes_once_the_peer_took_the_delivery() -> None:
    link = RecordingLink(credit=0)
    stream = outbound_stream(link)
    stream.start_credit = 1  # the receiver's first grant
    first = b"a" * FIRST_BURST
    held = b"b" * 8288
    stream.write(first)
    stream.write(held)  # beyond the first burst: held
    assert b"".join(link.sent) == b"HEADER" + first
    link.credit = 2  # the receiver took the delivery and gave its credit back
    stream.write(b"c" * 100)
    stream.finish()
    assert b"".join(link.sent) == b"HEADER" + first + held + b"c" * 100
    assert link.advanced == 1


def test_held_bytes_go_out_on_release_and_the_end_after_them() -> None:
    link = RecordingLink(credit=1)
    stream = outbound_stream(link)
    stream.write(b"a" * (FIRST_BURST + 10))
    stream.finish()
    assert link.advanced == 0  # the end waits for the held bytes
    stream.release()
    assert b"".join(link.sent) == b"HEADER" + b"a" * (FIRST_BURST + 10)
    assert link.advanced == 1


def test_a_request_to_a_skupper_router_sends_its_header_alone_until_released() -> None:
    link = RecordingLink(credit=5)
    stream = outbound_stream(link, StreamStart.REPLY)
    stream.write(b"r" * 100)  # even a small request waits: the peer may be switching
    assert link.sent == [b"HEADER"]
    link.credit = 6  # the receiver routed it: not enough for a skupper-router's connector
    assert not stream.may_go(now=0.0)
    stream.write(b"s" * 10)
    stream.finish()
    assert link.advanced == 0
    stream.release()  # its reply passed this router: the backend answered
    assert b"".join(link.sent) == b"HEADER" + b"r" * 100 + b"s" * 10
    assert link.advanced == 1


def test_a_reply_to_a_skupper_router_waits_until_its_listener_side_has_it() -> None:
    link = RecordingLink(credit=5)
    stream = outbound_stream(link, StreamStart.SETTLED)
    assert link.sent == [b"HEADER"]  # at once: skupper-router's listener waits for it
    stream.write(b"a" * 500)
    stream.peer_spoke()  # request bytes before the credit shows the reply taken: not yet
    assert link.sent == [b"HEADER"]
    assert not stream.may_go(now=10.0)
    link.credit = 6  # taken (routed); its listener side takes it a moment later
    assert not stream.may_go(now=10.0)
    stream.peer_spoke()  # the request's bytes came after: the listener side has the reply
    assert b"".join(link.sent) == b"HEADER" + b"a" * 500


def test_a_reply_to_a_skupper_router_goes_a_pause_after_it_was_taken() -> None:
    link = RecordingLink(credit=5)
    stream = outbound_stream(link, StreamStart.SETTLED)
    stream.write(b"a" * 500)  # the server spoke first: no request bytes will come
    link.credit = 6
    assert not stream.may_go(now=10.0)
    assert not stream.may_go(now=10.0 + SETTLE_PAUSE / 2)
    assert stream.may_go(now=10.0 + SETTLE_PAUSE)
    stream.release()
    stream.finish()
    assert b"".join(link.sent) == b"HEADER" + b"a" * 500
    assert link.advanced == 1
