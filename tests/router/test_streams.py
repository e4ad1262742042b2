"""The first-burst gate of an outbound stream (``router/streams.py``), without sockets:
bytes held until the receiver shows it took the delivery all go out, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from skupper_podman.router.streams import FIRST_BURST, OutboundStream


@dataclass
class _Link:
    credit: int = 0
    sent: list[bytes] = field(default_factory=list)
    advanced: int = 0

    def delivery(self, tag: str) -> Any:
        return SimpleNamespace(tag=tag, remote_state=0)

    def send(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def advance(self) -> None:
        self.advanced += 1


def _stream(link: _Link) -> OutboundStream:
    return OutboundStream(
        link,  # type: ignore[arg-type]
        "tag-1",
        b"HEADER",
        owner=None,  # type: ignore[arg-type]
        notify=lambda: None,
        on_done=lambda stream: None,
        on_hold=lambda stream: None,
    )


def test_held_bytes_go_out_before_what_comes_once_the_peer_took_the_delivery() -> None:
    link = _Link(credit=0)
    stream = _stream(link)
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
    link = _Link(credit=1)
    stream = _stream(link)
    stream.write(b"a" * (FIRST_BURST + 10))
    stream.finish()
    assert link.advanced == 0  # the end waits for the held bytes
    stream.release()
    assert b"".join(link.sent) == b"HEADER" + b"a" * (FIRST_BURST + 10)
    assert link.advanced == 1
