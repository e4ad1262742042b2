"""What one client flow's observed HTTP requests become: a BIFLOW_APP record each, under
the flow's BIFLOW_TPORT record (attributes as skupper-router sets them: protocol, method,
result, reason, octets each way (body bytes), latency, streamId, sourceHost), and the
service's HTTP figures for Prometheus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .service_metrics import HttpMetrics
from .vanflow import RecordType
from .vanflow_records import Record, VanflowRecords


class HttpExchanges:
    def __init__(
        self,
        records: VanflowRecords,
        flow_record: Record | None,
        metrics: HttpMetrics,
        address: str,
        clock: Callable[[], float],
    ) -> None:
        self._records = records
        self._flow_record = flow_record
        self._metrics = metrics
        self._address = address
        self._clock = clock

    def request(
        self, protocol: str, method: str, stream_id: int, forwarded_for: str
    ) -> HttpExchange:
        now = self._clock()
        record = None
        if self._flow_record is not None:
            record = self._records.start(RecordType.BIFLOW_APP, now, parent=self._flow_record)
        exchange = HttpExchange(self, record, method, now)
        if record is not None:
            record.set(
                protocol=protocol,
                method=method,
                octets=0,
                octetsReverse=0,
                streamId=stream_id or None,
                sourceHost=forwarded_for or None,
            )
            record.sample = exchange.sample
        return exchange

    def now(self) -> float:
        return self._clock()

    def ended(self, exchange: HttpExchange) -> None:
        now = self._clock()
        if exchange.record is not None:
            exchange.record.set(**exchange.sample())
            exchange.record.sample = None
            self._records.end(exchange.record, now)
        self._metrics.exchange_ended(
            self._address,
            exchange.method,
            exchange.status,
            exchange.latency,
            (exchange.octets, exchange.octets_reverse),
        )


class HttpExchange:
    __slots__ = (
        "_owner",
        "done",
        "latency",
        "method",
        "octets",
        "octets_reverse",
        "record",
        "started",
        "status",
    )

    def __init__(
        self, owner: HttpExchanges, record: Record | None, method: str, now: float
    ) -> None:
        self._owner = owner
        self.record = record
        self.method = method
        self.started = now
        self.status = 0  # the final status; 0 until one came
        self.latency: float | None = None  # seconds to the first response head
        self.octets = 0  # request body bytes
        self.octets_reverse = 0  # response body bytes
        self.done = False

    def answered(self, status: int, reason: str) -> None:
        if self.latency is None:
            self.latency = max(0.0, self._owner.now() - self.started)
            if self.record is not None:
                self.record.set(latency=int(self.latency * 1_000_000))
        if status >= 200 or status == 101:
            self.status = status
            if self.record is not None:
                self.record.set(result=str(status), reason=reason or None)

    def body(self, from_client: bool, size: int) -> None:
        if from_client:
            self.octets += size
        else:
            self.octets_reverse += size

    def finished(self) -> None:
        if not self.done:
            self.done = True
            self._owner.ended(self)

    def sample(self) -> dict[str, Any]:
        return {"octets": self.octets, "octetsReverse": self.octets_reverse}
