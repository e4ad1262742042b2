"""The router's flow records and when they are sent: sans-I/O, driven by ``now``.

Records change as things happen (a listener configured, a link up, a flow ended); every
200 ms what changed goes out as RECORD messages to whoever listens (``vanflow.py`` has
the wire). Ended records are dropped once sent (or unsent when nobody listens), an ended
flow record 5 s later, so memory stays bounded; a FLUSH makes every kept record go out
whole again. A flow record reads its byte counts from its flow only when records are
sent, never per byte.
"""

from __future__ import annotations

import itertools
import random
import string
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from . import vanflow
from .vanflow import CODES, RecordType

HEARTBEAT_INTERVAL = 2.0
HEARTBEATS_PER_BEACON = 5
FLUSH_INTERVAL = 0.2
FLOW_RECORDS_MAX = 5000  # skupper-router stops making flow records beyond this many
# An ended flow's record is kept this long, as skupper-router keeps it: for what the
# connector's router tells of it (a co-record), and counted against FLOW_RECORDS_MAX, which
# bounds the records a busy router makes (at 20,000 requests a second, about 1,000 of them
# get one).
KEEP_ENDED_FLOW = 5.0
SOURCE_ID_SIZE = 5

Sample = Callable[[], dict[str, Any]]


def new_source_id(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=SOURCE_ID_SIZE))


class Record:
    """One record: its attributes by code, and which changed since it was last sent."""

    __slots__ = (
        "changed", "ended", "ended_at", "expires_at", "identity", "sample", "type", "values",
    )  # fmt: skip

    def __init__(self, kind: RecordType, identity: str) -> None:
        self.type = kind
        self.identity = identity
        self.values: dict[int, Any] = {}
        self.changed: set[int] = set()
        self.ended = False
        self.ended_at = 0.0
        self.expires_at = 0.0  # an ended flow record: when it is dropped (0: not yet set)
        self.sample: Sample | None = None  # a flow's live counters, read when sending

    def set(self, **attributes: Any) -> None:
        for name, value in attributes.items():
            code = CODES[name]
            if value is not None and self.values.get(code) != value:
                self.values[code] = value
                self.changed.add(code)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(CODES[name], default)

    def wire(self) -> dict[int, Any]:
        """What changed since it was last sent (everything, after a FLUSH's refresh)."""
        return {
            vanflow.RECORD_TYPE: int(self.type),
            vanflow.IDENTITY: self.identity,
        } | {code: self.values[code] for code in self.changed}


class VanflowRecords:
    def __init__(self, source: str, *, now: float, epoch: float) -> None:
        """``epoch``: what to add to ``now`` for seconds since 1970 (record timestamps)."""
        self.source = source
        self.epoch = epoch
        self._ids = itertools.count(1)
        self._message_ids: Iterator[int] = itertools.count(1)
        self.records: dict[str, Record] = {}
        # what this router tells other routers of their flows (connector side), by identity
        self.co_records: dict[str, Record] = {}
        self.flow_count = 0
        # Each round walks only what may have changed: the live records (while someone
        # listens) and the records that ended since the last round; an ended flow record
        # then waits in _expiring (in the order they end) until it is dropped.
        self._live: dict[str, None] = {}
        self._ended: dict[str, None] = {}
        self._expiring: deque[tuple[float, str]] = deque()
        self.router = self._add(RecordType.ROUTER, f"{source}:0", now)
        self._next_flush = now + FLUSH_INTERVAL
        self._next_heartbeat = now
        self._heartbeats = 0
        self._all_heard = self._own_heard = False  # as last seen: someone listens there
        self.flows_heard = False  # as last seen: a collector takes flow records

    @property
    def event_address(self) -> str:
        return vanflow.event_address(self.source)

    @property
    def flows_address(self) -> str:
        return vanflow.flows_address(self.source)

    @property
    def command_address(self) -> str:
        return vanflow.command_address(self.source)

    @property
    def co_record_address(self) -> str:
        return vanflow.co_record_address(self.source)

    def microseconds(self, now: float) -> int:
        return int((now + self.epoch) * 1_000_000)

    def start(self, kind: RecordType, now: float, parent: Record | None = None) -> Record | None:
        """A new record under ``parent`` (the router's by default); None when flow records
        are at their limit."""
        if kind in vanflow.FLOW_RECORD_TYPES:
            if self.flow_count >= FLOW_RECORDS_MAX:
                return None
            self.flow_count += 1
        record = self._add(kind, f"{self.source}:{next(self._ids)}", now)
        if kind is not RecordType.SITE:  # the site is the root, the router's parent
            record.set(parent=(parent or self.router).identity)
        return record

    def end(self, record: Record, now: float) -> None:
        if not record.ended:
            if record.sample is not None:
                # its last figures; kept a while for collectors, the record no longer holds
                # what it sampled (a flow, and through it the flow's streams and deliveries)
                record.set(**record.sample())
                record.sample = None
            record.ended, record.ended_at = True, now
            if record.identity in self.records:
                self._live.pop(record.identity, None)
                self._ended[record.identity] = None
            if record.identity not in self.co_records:
                record.set(endTime=self.microseconds(now))

    def co_record(self, identity: str) -> Record | None:
        """What this router adds to another router's flow record (named ``identity``)."""
        source = vanflow.source_of(identity)
        if not source or source == self.source or len(self.co_records) >= FLOW_RECORDS_MAX:
            return None
        record = Record(RecordType.BIFLOW_TPORT, identity)
        self.co_records[identity] = record
        return record

    def merge(self, identity: str, attributes: dict[str, Any]) -> None:
        """A co-record's attributes for one of this router's flow records."""
        record = self.records.get(identity)
        if record is not None and record.type is RecordType.BIFLOW_TPORT:
            # only what this router has codes for, of the type it sends them as
            known = {
                name: value
                for name, value in attributes.items()
                if name in CODES
                and name not in ("identity", "recordType")
                and isinstance(value, int if CODES[name] in vanflow.UNSIGNED else str)
            }
            record.set(**known)
            if record.ended and record.changed:  # told after the flow ended: sent still
                self._ended[identity] = None

    def refresh(self) -> None:
        """A collector asked for everything (FLUSH)."""
        for identity, record in self.records.items():
            record.changed = set(record.values)
            if record.ended:
                self._ended[identity] = None

    def next_due(self) -> float:
        return min(self._next_flush, self._next_heartbeat)

    def due(self, now: float, listened: Callable[[str], bool]) -> list[tuple[str, bytes]]:
        """The messages to send now, to addresses somebody listens on. A collector that
        appears gets a BEACON (or HEARTBEAT) at once, not at the next round."""
        messages: list[tuple[str, bytes]] = []
        if now >= self._next_flush:
            self._next_flush = now + FLUSH_INTERVAL
            all_heard, own_heard = listened(vanflow.ALL_ADDRESS), listened(self.event_address)
            if (all_heard and not self._all_heard) or (own_heard and not self._own_heard):
                self._next_heartbeat = now
                self._heartbeats = 0 if all_heard and not self._all_heard else 1
            self._all_heard, self._own_heard = all_heard, own_heard
            messages += self._changed_records(now, listened)
            messages += self._changed_co_records(listened)
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_INTERVAL
            if self._heartbeats % HEARTBEATS_PER_BEACON == 0 and self._all_heard:
                beacon = vanflow.beacon(self.source, next(self._message_ids))
                messages.append((vanflow.ALL_ADDRESS, beacon))
            self._heartbeats += 1
            if self._own_heard:
                message_id = next(self._message_ids)
                heartbeat = vanflow.heartbeat(self.source, message_id, self.microseconds(now))
                messages.append((self.event_address, heartbeat))
        return messages

    def _changed_records(
        self, now: float, listened: Callable[[str], bool]
    ) -> list[tuple[str, bytes]]:
        others: list[dict[int, Any]] = []
        flows: list[dict[int, Any]] = []
        # unheard changes are dropped: a collector that comes later asks for all (FLUSH)
        others_heard, flows_heard = listened(self.event_address), listened(self.flows_address)
        self.flows_heard = flows_heard
        # unheard, live records wait (their changes go out whole on a collector's FLUSH):
        # only ended ones are looked at, to be dropped
        walked = [*self._live, *self._ended] if others_heard or flows_heard else [*self._ended]
        self._ended = {}
        for identity in walked:
            record = self.records[identity]
            is_flow = record.type in vanflow.FLOW_RECORD_TYPES
            if record.sample is not None and flows_heard:  # an ended one has no sample
                record.set(**record.sample())
            if record.changed:
                if flows_heard if is_flow else others_heard:
                    (flows if is_flow else others).append(record.wire())
                record.changed = set()
            if not record.ended:
                continue
            if not is_flow:
                del self.records[identity]
            elif not record.expires_at:
                record.expires_at = record.ended_at + KEEP_ENDED_FLOW
                self._expiring.append((record.expires_at, identity))
        expiring = self._expiring
        while expiring and expiring[0][0] <= now:
            _, identity = expiring.popleft()
            self._ended.pop(identity, None)
            del self.records[identity]
            self.flow_count -= 1
        messages: list[tuple[str, bytes]] = []
        for address, batch in ((self.event_address, others), (self.flows_address, flows)):
            if batch:
                encoded = vanflow.record_messages(address, batch, self._message_ids)
                messages += [(address, message) for message in encoded]
        return messages

    def _changed_co_records(self, listened: Callable[[str], bool]) -> list[tuple[str, bytes]]:
        """Co-records go to the router whose flow they tell of, once they changed."""
        by_source: dict[str, list[dict[int, Any]]] = {}
        heard: dict[str, bool] = {}  # by source: unheard changes are dropped, not sampled
        for identity, record in list(self.co_records.items()):
            source = vanflow.source_of(identity)
            if source not in heard:
                heard[source] = listened(vanflow.co_record_address(source))
            if heard[source] and record.sample is not None:
                record.set(**record.sample())
            if record.changed:
                if heard[source]:
                    by_source.setdefault(source, []).append(record.wire())
                record.changed = set()
            if record.ended:
                del self.co_records[identity]
        messages: list[tuple[str, bytes]] = []
        for source, batch in by_source.items():
            address = vanflow.co_record_address(source)
            encoded = vanflow.record_messages(address, batch, self._message_ids)
            messages += [(address, message) for message in encoded]
        return messages

    def _add(self, kind: RecordType, identity: str, now: float) -> Record:
        record = Record(kind, identity)
        record.set(startTime=self.microseconds(now))
        self.records[identity] = record
        self._live[identity] = None
        return record
