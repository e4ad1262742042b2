"""What an outbound stream's unit tests give it in place of proton: a link that keeps what
is sent on it, and a delivery that sends on that link."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from skupper_podman.router.send_budget import SendBudget
from skupper_podman.router.streams import OutboundStream, StreamStart


@dataclass
class RecordingLink:
    credit: int = 0
    sent: list[bytes] = field(default_factory=list)
    advanced: int = 0

    def send(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def advance(self) -> None:
        self.advanced += 1


def outbound_stream(
    link: RecordingLink, start: StreamStart = StreamStart.TAKEN, budget: SendBudget | None = None
) -> OutboundStream:
    delivery = SimpleNamespace(
        attributes={},
        remote_state=0,
        remote_section_offset=0,
        settled=False,
        send=link.send,
        abort=lambda: None,
    )
    return OutboundStream(
        link,  # type: ignore[arg-type]
        delivery,  # type: ignore[arg-type]
        b"HEADER",
        owner=SimpleNamespace(stream_acked=lambda offset: None),
        notify=lambda: None,
        on_done=lambda stream: None,
        on_hold=lambda stream: None,
        start=start,
        budget=budget,
    )
