"""What the router tells of its TCP flows, live and recently ended: the rows of the
management entity ``tcpConnection`` (skupper-router's name for it; ``agent_links``),
read by ``skupper-podman flows``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .tcp import TcpFlow

RECENT_FLOWS = 100  # ended flows kept for `flows`


@dataclass(frozen=True)
class FlowRecord:
    flow_id: int
    side: str  # "listener": a client's connection; "connector": to a backend
    via: str  # the tcpListener's or tcpConnector's name
    address: str  # the routing key
    started_at: float
    ended_at: float | None
    bytes_in: int  # read from the flow's socket
    bytes_out: int  # written to it
    latency: float | None  # listener side: from the client's connect to the first reply byte

    @classmethod
    def of(cls, flow: TcpFlow, ended_at: float | None = None) -> FlowRecord:
        return cls(
            flow.flow_id,
            flow.side,
            flow.via,
            flow.address,
            flow.started_at,
            ended_at,
            flow.bytes_in,
            flow.bytes_out,
            flow.reply_latency(),
        )

    def row(self, now: float) -> dict[str, Any]:
        end = self.ended_at if self.ended_at is not None else now
        return {
            "identity": f"tcpConnection/{self.flow_id}",
            "type": "io.skupper.router.tcpConnection",
            "name": f"flow-{self.flow_id}",
            "direction": "in" if self.side == "listener" else "out",
            "side": self.side,
            "via": self.via,
            "address": self.address,
            "state": "open" if self.ended_at is None else "closed",
            "bytesIn": self.bytes_in,
            "bytesOut": self.bytes_out,
            "uptimeSeconds": round(end - self.started_at, 3),
            "endedSecondsAgo": None if self.ended_at is None else round(now - self.ended_at, 3),
            "latencyMs": None if self.latency is None else round(self.latency * 1000, 3),
        }
