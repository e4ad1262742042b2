"""Flow records for collectors, wired for the core: the records (``vanflow_records``),
what makes them (``flow_reporter``) and the subscriptions they travel on
(``subscriptions``). The core calls it on its timer and as links come and go."""

from __future__ import annotations

import random

from proton import Message

from . import VERSION
from .config import RouterConfig
from .connection import RouterConnection
from .fabric import Fabric
from .flow_reporter import FlowReporter
from .message import RouterAnnotations
from .subscriptions import Send, Subscriptions, deliver, is_multicast, listened
from .vanflow import ALL_ADDRESS, decode_records
from .vanflow_records import VanflowRecords, new_source_id


class Observation:
    def __init__(
        self,
        config: RouterConfig,
        fabric: Fabric,
        connections: dict[int, RouterConnection],
        send: Send,
        *,
        now: float,
        epoch: float,
        instance: int,
    ) -> None:
        self.fabric = fabric
        self.connections = connections
        self.send = send
        source = new_source_id(random.Random(f"{config.router.id}:{instance}"))
        self.records = VanflowRecords(source, now=now, epoch=epoch)
        self.reporter = FlowReporter(self.records, version=VERSION)
        self.subscriptions = Subscriptions(
            own={
                self.records.command_address: self._command,
                self.records.co_record_address: self._co_records,
            }
        )
        self.reporter.apply_config(config, now)
        self._accepted: set[int] = set()  # link connections counted on their listener

    def _command(self, bare: bytes) -> None:
        message = _decoded(bare)
        if message is not None:
            self.reporter.on_command(message)

    def _co_records(self, bare: bytes) -> None:
        """Another router tells what it knows of our flows (their connectors)."""
        message = _decoded(bare)
        for record in decode_records(message) if message is not None else ():
            if record.type == "BIFLOW_TPORT":
                self.records.merge(record.identity, record.attributes)

    def produced_addresses(self) -> set[str]:
        """Where the records go, and where clients send to (an edge tells its interior)."""
        records = self.records
        addresses = {ALL_ADDRESS, records.event_address, records.flows_address}
        return addresses | set(self.subscriptions.producers)

    def next_due(self) -> float:
        return self.records.next_due()

    def tick(self, now: float) -> None:
        def heard(address: str) -> bool:
            return listened(self.fabric, self.subscriptions, address)

        for address, message in self.records.due(now, heard):
            self.deliver(address, message, None, None)

    def deliver(
        self,
        address: str,
        bare: bytes,
        received: RouterAnnotations | None,
        came_from: RouterConnection | None,
    ) -> None:
        fabric, subscriptions = self.fabric, self.subscriptions
        deliver(
            fabric, subscriptions, self.connections, self.send, address, bare, received, came_from
        )

    def wants(self, address: str) -> bool:
        """Whether a message for ``address`` is a whole one for the subscriptions."""
        subscriptions = self.subscriptions
        return (
            address in subscriptions.links or address in subscriptions.own or is_multicast(address)
        )

    def link_ready(self, conn: RouterConnection, now: float) -> None:
        if conn.dialled:
            self.reporter.link_changed(conn.origin.name, True, now)
        elif conn.conn_id not in self._accepted:
            self._accepted.add(conn.conn_id)
            self.reporter.access_used(conn.origin.name, +1)

    def connection_down(self, conn: RouterConnection, error: str, now: float) -> bool:
        """A connection went away; True when subscriptions went with it."""
        if conn.dialled:
            self.reporter.link_changed(conn.origin.name, False, now, error)
        elif conn.conn_id in self._accepted:
            self._accepted.discard(conn.conn_id)
            self.reporter.access_used(conn.origin.name, -1)
        return self.subscriptions.remove(conn.conn_id)


def _decoded(bare: bytes) -> Message | None:
    message = Message()
    try:
        message.decode(bare)
    except Exception:  # proton raises several types for bad input
        return None
    return message
