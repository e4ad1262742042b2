"""A flow collector: connects to any router of a network (ours or skupper-router), hears
every router's BEACON, subscribes to its records and asks for all of them (FLUSH), and
keeps the network's records merged by identity, the way Skupper's network observer
does. One decoder (``router/vanflow.py``) reads both kinds of router.

It runs proton's event loop in a thread of its own; ``snapshot()`` is safe from others.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proton import Message, SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import Container

from skupper_podman import management
from skupper_podman.router.vanflow import ALL_ADDRESS, FLOWS_SUFFIX, DecodedRecord, decode_records

POLL_SECONDS = 0.2
ENDED_FLOWS_KEPT = 10_000  # ended flow and request records kept, the newest (memory stays bounded)
FLOW_TYPES = frozenset({"FLOW", "BIFLOW_TPORT", "BIFLOW_APP"})


@dataclass
class Source:
    """A router heard from: its BEACON, and when it last spoke."""

    identity: str
    address: str
    direct: str
    last_heard: float
    heartbeats: int = 0


@dataclass
class Snapshot:
    sources: dict[str, Source] = field(default_factory=dict)
    records: dict[str, DecodedRecord] = field(default_factory=dict)
    ended: dict[str, None] = field(default_factory=dict)  # ended flow records, oldest first

    def of_type(self, kind: str) -> list[DecodedRecord]:
        return [r for r in self.records.values() if r.type == kind]

    def merge(self, record: DecodedRecord) -> None:
        """A record, or what changed of one; the oldest ended flow records are forgotten
        beyond ENDED_FLOWS_KEPT."""
        known = self.records.get(record.identity)
        if known is None:
            self.records[record.identity] = known = record
        else:
            known.attributes.update(record.attributes)
        if "endTime" in record.attributes and known.type in FLOW_TYPES:
            self.ended[record.identity] = None
            if len(self.ended) > ENDED_FLOWS_KEPT:
                oldest = next(iter(self.ended))
                del self.ended[oldest]
                self.records.pop(oldest, None)


class Collector(MessagingHandler):
    def __init__(self, url: str, ssl_domain: SSLDomain | None = None) -> None:
        """``url``: amqp://host:port (a normal listener) or amqps://... with ``ssl_domain``
        holding a client certificate (SASL EXTERNAL, as a site's management port wants)."""
        super().__init__(prefetch=250)
        self.url = url
        self.ssl_domain = ssl_domain
        self._lock = threading.Lock()
        self._state = Snapshot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None
        self._senders: dict[str, Any] = {}
        self.error = ""

    # --- from other threads ----------------------------------------------------------------

    def start(self) -> Collector:
        self._thread = threading.Thread(target=self._run, name="flow-collector", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def snapshot(self) -> Snapshot:
        with self._lock:
            records = {
                k: DecodedRecord(r.type, r.identity, dict(r.attributes))
                for k, r in self._state.records.items()
            }
            return Snapshot(dict(self._state.sources), records)

    # --- the event loop --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            Container(self).run()
        except Exception as error:  # the loop ended on an error: say which
            self.error = f"{type(error).__name__}: {error}"

    def on_start(self, event: Any) -> None:
        options = {"sasl_enabled": True, "allowed_mechs": "EXTERNAL"} if self.ssl_domain else {}
        self._connection = event.container.connect(
            self.url, ssl_domain=self.ssl_domain, reconnect=False, **options
        )
        event.container.create_receiver(self._connection, ALL_ADDRESS)
        event.container.schedule(POLL_SECONDS, self)

    def on_timer_task(self, event: Any) -> None:
        if self._stop.is_set():
            self._connection.close()
            event.container.stop()
        else:
            event.container.schedule(POLL_SECONDS, self)

    def on_transport_error(self, event: Any) -> None:
        condition = event.transport.condition
        self.error = f"{condition.name}: {condition.description}" if condition else "lost"

    def on_message(self, event: Any) -> None:
        message: Message = event.message
        received: dict[Any, Any] = message.properties or {}
        properties = {str(k): v for k, v in received.items()}
        if message.subject == "BEACON":
            self._on_beacon(event, properties)
        elif message.subject == "HEARTBEAT":
            self._on_heartbeat(properties)
        elif message.subject == "RECORD":
            records = decode_records(message)
            with self._lock:
                for record in records:
                    self._state.merge(record)

    def _on_beacon(self, event: Any, properties: dict[str, Any]) -> None:
        identity = str(properties.get("id", ""))
        with self._lock:
            known = identity in self._state.sources
            if not known:
                self._state.sources[identity] = Source(
                    identity,
                    str(properties.get("address", "")),
                    str(properties.get("direct", "")),
                    time.time(),
                )
        if known or not identity:
            return
        address = str(properties.get("address", ""))
        event.container.create_receiver(self._connection, address)
        event.container.create_receiver(self._connection, address + FLOWS_SUFFIX)
        self._senders[identity] = event.container.create_sender(
            self._connection, str(properties.get("direct", ""))
        )

    def _on_heartbeat(self, properties: dict[str, Any]) -> None:
        identity = str(properties.get("id", ""))
        with self._lock:
            source = self._state.sources.get(identity)
            if source is None:
                return
            source.last_heard = time.time()
            source.heartbeats += 1
            first = source.heartbeats == 1
        sender = self._senders.get(identity)
        if first and sender is not None:
            # its first heartbeat shows our subscription reached it: now ask for everything
            sender.send(Message(subject="FLUSH"))


def site_collector(management_port: int, credential: Path) -> Collector:
    """A collector on a site's own router: its management port, with the site's local
    client certificate (``credential`` folder), as the CLI connects."""
    url = f"amqps://127.0.0.1:{management_port}"
    return Collector(url, management.client_ssl_domain(credential))
