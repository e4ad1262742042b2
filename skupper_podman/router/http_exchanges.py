"""What one client flow's observed HTTP requests become: a BIFLOW_APP record each, under
the flow's BIFLOW_TPORT record (attributes as skupper-router sets them: protocol, method,
result, reason, octets each way (body bytes), latency, streamId, sourceHost), and the
service's HTTP figures for Prometheus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .service_metrics import HttpMetrics, HttpService
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
        self._service: HttpService | None = None  # the service's figures, from a first request
        self._clock = clock

    def request(
        self, protocol: str, method: str, stream_id: int, forwarded_for: str
    ) -> HttpExchange:
        now = self._clock()
        if self._service is None:
            self._service = self._metrics.service(self._address)
        record = None
        # a request's record is made only while a collector takes them: unheard, it would
        # be dropped at the next round unsent
        if self._flow_record is not None and self._records.flows_heard:
            record = self._records.start(RecordType.BIFLOW_APP, now, parent=self._flow_record)
        exchange = HttpExchange(self._records, self._service, self._clock, record, method, now)
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


class HttpExchange:
    """One request: what the observer tells of it goes to its record (if a collector
    listens) and, when it ends, to its service's figures."""

    __slots__ = (
        "_clock",
        "_records",
        "_service",
        "done",
        "latency",
        "method",
        "octets",
        "octets_reverse",
        "record",
        "request_done",
        "response_done",
        "started",
        "status",
    )

    def __init__(
        self,
        records: VanflowRecords,
        service: HttpService,
        clock: Callable[[], float],
        record: Record | None,
        method: str,
        now: float,
    ) -> None:
        self._records = records
        self._service = service
        self._clock = clock
        self.record = record
        self.method = method
        self.started = now
        self.status = 0  # the final status; 0 until one came
        self.latency: float | None = None  # seconds to the first response head
        self.octets = 0  # request body bytes
        self.octets_reverse = 0  # response body bytes
        self.done = False
        self.request_done = self.response_done = False  # the parser's marks

    def answered(self, status: int, reason: str) -> None:
        if self.latency is None:
            now = self._clock()
            latency = now - self.started
            self.latency = latency if latency > 0.0 else 0.0
            if self.record is not None:
                # a difference of the records' own timestamps: rounded apart, the start
                # plus the latency could pass the end by a microsecond
                microseconds = self._records.microseconds
                self.record.set(latency=max(0, microseconds(now) - microseconds(self.started)))
        if status >= 200 or status == 101:
            self.status = status
            if self.record is not None:
                self.record.set(result=str(status), reason=reason or None)

    def whole_response(self, status: int, reason: str, size: int) -> None:
        """A final response and all ``size`` bytes of its body at once."""
        self.answered(status, reason)
        self.octets_reverse += size
        self.message_done(False)

    def message_done(self, from_client: bool) -> bool:
        """The request (or response) is complete; True when both are, and the exchange
        has finished."""
        if from_client:
            self.request_done = True
        else:
            self.response_done = True
        if self.request_done and self.response_done:
            self.finished()
            return True
        return False

    def body(self, from_client: bool, size: int) -> None:
        if from_client:
            self.octets += size
        else:
            self.octets_reverse += size

    def finished(self) -> None:
        if self.done:
            return
        self.done = True
        record = self.record
        if record is not None:
            self._records.end(record, self._clock())  # with its last sample
        self._service.exchange_ended(
            self.method, self.status, self.latency, self.octets, self.octets_reverse
        )

    def sample(self) -> dict[str, Any]:
        return {"octets": self.octets, "octetsReverse": self.octets_reverse}
