"""What an outbound stream's unit tests give it in place of proton's link: one that keeps
what is sent on it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordingLink:
    credit: int = 0
    sent: list[bytes] = field(default_factory=list)
    advanced: int = 0

    def send(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def advance(self) -> None:
        self.advanced += 1
