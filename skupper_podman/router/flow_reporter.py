"""What the router tells flow collectors (vanflow records, as skupper-router tells them):
its site and itself, its link listeners (ROUTER_ACCESS) and links (LINK), its tcpListeners
and tcpConnectors, and one BIFLOW_TPORT record per TCP flow that a client opened here.

The core calls it as things happen; ``vanflow_records.py`` keeps the records and sends
them. A flow's record is named in the request's correlation-id, as skupper-router names
it, so that the connector's router can tell which flow it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proton import Message

from . import http_classify
from .config import AmqpConnector, AmqpListener, RouterConfig, TcpConnector, TcpListener
from .http_exchanges import HttpExchanges
from .service_metrics import ServiceMetrics
from .tcp import TcpFlow, Watcher
from .vanflow import RecordType
from .vanflow_records import Record, VanflowRecords

LINK_ROLES = ("inter-router", "edge")


class FlowReporter:
    def __init__(self, records: VanflowRecords, *, version: str) -> None:
        self.records = records
        self.version = version
        self.site: Record | None = None
        self.entities: dict[tuple[str, str], tuple[object, Record]] = {}
        self.flows: dict[int, Record] = {}
        self.services = ServiceMetrics()  # what Prometheus reads per routing key

    # --- configuration ----------------------------------------------------------------------

    def apply_config(self, config: RouterConfig, now: float) -> None:
        """Records for what ``config`` has; ended for what it no longer has."""
        router = self.records.router
        router.set(
            name=f"0/{config.router.id}",
            mode=config.router.mode,
            buildVersion=self.version,
        )
        site = config.site
        if site.name and self.site is None:
            self.site = self.records.start(RecordType.SITE, now)
        if self.site is not None:
            self.site.set(
                name=site.name or None,
                location=site.location or None,
                provider=site.provider or None,
                platform=site.platform or None,
                namespace=site.namespace or None,
                buildVersion=site.version or None,
            )
            router.set(parent=self.site.identity)
        wanted: dict[tuple[str, str], object] = {}
        for listener in config.listeners.values():
            if listener.role in LINK_ROLES:
                wanted[("access", listener.name)] = listener
        for connector in config.connectors.values():
            if connector.role in LINK_ROLES:
                wanted[("link", connector.name)] = connector
        for tcp_listener in config.tcp_listeners.values():
            wanted[("listener", tcp_listener.name)] = tcp_listener
        for tcp_connector in config.tcp_connectors.values():
            wanted[("connector", tcp_connector.name)] = tcp_connector
        for key in list(self.entities):
            entity, ended = self.entities[key]
            if wanted.get(key) != entity:
                self.records.end(ended, now)
                del self.entities[key]
        for key, entity in wanted.items():
            if key not in self.entities:
                record = self._start(entity, now)
                if record is not None:
                    self.entities[key] = (entity, record)

    def _start(self, entity: object, now: float) -> Record | None:
        if isinstance(entity, AmqpListener):
            record = self.records.start(RecordType.ROUTER_ACCESS, now)
            if record is not None:
                record.set(name=entity.name, role=entity.role, linkCount=0)
            return record
        if isinstance(entity, AmqpConnector):
            record = self.records.start(RecordType.LINK, now)
            if record is not None:
                record.set(
                    name=entity.name,
                    role=entity.role,
                    linkCost=entity.cost,
                    operStatus="down",
                    downCount=0,
                    protocol="amqps" if entity.sslProfile else "amqp",
                    destHost=entity.host,
                    destPort=str(entity.port),
                    octets=0,
                    octetsReverse=0,
                    httpProxy="yes" if entity.proxy else "no",
                )
            return record
        kind = RecordType.LISTENER if isinstance(entity, TcpListener) else RecordType.CONNECTOR
        assert isinstance(entity, TcpListener | TcpConnector)
        record = self.records.start(kind, now)
        if record is not None:
            record.set(
                name=entity.name,
                protocol="tcp",
                destHost=entity.host or "0.0.0.0",
                destPort=str(entity.port),
                vanAddress=entity.address,
                flowCountL4=0,
            )
        return record

    # --- links ------------------------------------------------------------------------------

    def link_changed(self, name: str, up: bool, now: float, error: str = "") -> None:
        """A link connector's connection opened or went away."""
        found = self.entities.get(("link", name))
        if found is None:
            return
        record = found[1]
        if up:
            record.set(operStatus="up", upTimeStamp=self.records.microseconds(now))
        elif record.get("operStatus") == "up":
            record.set(
                operStatus="down",
                downTimeStamp=self.records.microseconds(now),
                downCount=record.get("downCount", 0) + 1,
                reason=error or None,
            )

    def link_peer(self, name: str, access_id: str) -> None:
        """The far end of a link named the link listener it came in on."""
        found = self.entities.get(("link", name))
        if found is not None:
            found[1].set(peer=access_id)

    def access_used(self, name: str, delta: int) -> None:
        """A link connection came in on a link listener (+1) or went away (-1)."""
        found = self.entities.get(("access", name))
        if found is not None:
            record = found[1]
            record.set(linkCount=max(0, record.get("linkCount", 0) + delta))

    def access_id(self, name: str) -> str:
        """The record identity of a link listener (told to routers linking in)."""
        found = self.entities.get(("access", name))
        return found[1].identity if found else ""

    # --- flows ------------------------------------------------------------------------------

    def flow_started(self, flow: TcpFlow, now: float) -> str | None:
        """A client's flow (listener side): its record's identity, or None."""
        found = self.entities.get(("listener", flow.via))
        if flow.side != "listener" or found is None:
            return None
        listener = found[1]
        listener.set(flowCountL4=listener.get("flowCountL4", 0) + 1)
        record = self.records.start(RecordType.BIFLOW_TPORT, now, parent=listener)
        if record is None:
            return None
        record.set(octets=0, octetsReverse=0)
        record.sample = lambda: _flow_sample(flow)
        self.flows[flow.flow_id] = record
        return record.identity

    def watch(self, flow: TcpFlow, observer: str, clock: Callable[[], float]) -> Watcher | None:
        """A client's flow is read for HTTP requests as its listener's ``observer`` says."""
        if observer == "none":
            return None
        exchanges = HttpExchanges(
            self.records, self.flows.get(flow.flow_id), self.services.http, flow.address, clock
        )
        return http_classify.observer(observer, exchanges)

    def connector_flow_started(self, flow: TcpFlow, record_id: str) -> None:
        """A flow for a local tcpConnector; ``record_id``: the flow's record, named by the
        listener's router (a co-record tells that router which connector serves it)."""
        found = self.entities.get(("connector", flow.via))
        if found is None:
            return
        connector = found[1]
        connector.set(flowCountL4=connector.get("flowCountL4", 0) + 1)
        own = self.records.records.get(record_id)
        if own is not None:  # the client came in here too
            own.set(connector=connector.identity)
            return
        co_record = self.records.co_record(record_id)
        if co_record is not None:
            co_record.set(connector=connector.identity)
            co_record.sample = lambda: {
                "processLatency": _microseconds(flow.first_out_at, flow.first_in_at)
            }
            self.flows[flow.flow_id] = co_record

    def flow_ended(self, flow: TcpFlow, now: float) -> None:
        if flow.watcher is not None:
            flow.watcher.end()
            flow.watcher = None
        if flow.side == "listener" and flow.address:
            self.services.flow_ended(flow.address, flow.reply_latency())
        record = self.flows.pop(flow.flow_id, None)
        if record is None:
            return
        self.records.end(record, now)

    def on_command(self, message: Message) -> None:
        if message.subject == "FLUSH":
            self.records.refresh()


def _flow_sample(flow: TcpFlow) -> dict[str, Any]:
    """A client's flow: bytes each way; latency as skupper-router measures it, from the
    client's first byte to the reply's first byte."""
    return {
        "octets": flow.bytes_in,
        "octetsReverse": flow.bytes_out,
        "latency": _microseconds(flow.first_in_at, flow.first_out_at),
    }


def _microseconds(start: float, end: float) -> int | None:
    """From ``start`` to ``end`` when both happened in that order."""
    return int((end - start) * 1_000_000) if start and end >= start else None
