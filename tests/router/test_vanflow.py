"""Flow records without sockets: the wire form (``vanflow``), when records go out
(``vanflow_records``) and which records a router's configuration makes
(``flow_reporter``). Messages are read back with proton's own decoder."""

from __future__ import annotations

from typing import Any

from proton import Message, symbol, ulong

from skupper_podman.router import vanflow
from skupper_podman.router.config import (
    AmqpConnector,
    AmqpListener,
    RouterConfig,
    RouterSettings,
    SiteInfo,
    TcpConnector,
    TcpListener,
)
from skupper_podman.router.flow_reporter import FlowReporter
from skupper_podman.router.vanflow import CODES, RecordType
from skupper_podman.router.vanflow_records import (
    FLOW_RECORDS_MAX,
    VanflowRecords,
)

EPOCH = 1_700_000_000.0


def decoded(bare: bytes) -> Any:
    """The message proton decodes (its body and properties are read as the test knows them)."""
    message = Message()
    message.decode(bare)
    return message


def test_a_beacon_is_what_skupper_router_sends() -> None:
    message = decoded(vanflow.beacon("AbC12", 7))
    assert (message.address, message.subject, message.id) == ("mc/sfe.all", "BEACON", 7)
    assert message.properties == {
        symbol("v"): 1,
        symbol("sourceType"): "ROUTER",
        symbol("id"): "AbC12:0",
        symbol("address"): "mc/sfe.AbC12:0",
        symbol("direct"): "sfe.AbC12:0",
    }
    assert all(type(key) is symbol for key in message.properties)
    assert message.body is None
    heartbeat = decoded(vanflow.heartbeat("AbC12", 8, 1_234_567))
    assert (heartbeat.address, heartbeat.subject) == ("mc/sfe.AbC12:0", "HEARTBEAT")
    assert heartbeat.properties[symbol("now")] == 1_234_567
    assert type(heartbeat.properties[symbol("now")]) is ulong


def test_records_travel_in_batches_of_50_and_decode_by_name() -> None:
    records = [
        {
            CODES["recordType"]: RecordType.BIFLOW_TPORT,
            CODES["identity"]: f"x:{n}",
            CODES["octets"]: n,
        }
        for n in range(120)
    ]
    ids = iter(range(1, 10))
    encoded = vanflow.record_messages("mc/sfe.x:0.flows", records, ids)
    messages = [decoded(m) for m in encoded]
    assert [len(m.body) for m in messages] == [50, 50, 20]
    assert [m.id for m in messages] == [1, 2, 3]
    first = messages[0].body[1]
    assert type(first[CODES["octets"]]) is ulong and type(first[CODES["identity"]]) is str
    decoded_records = vanflow.decode_records(messages[2])
    assert decoded_records[0] == vanflow.DecodedRecord("BIFLOW_TPORT", "x:100", {"octets": 100})


class Listening:
    """Who listens, as the network would say."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = set(addresses)

    def __call__(self, address: str) -> bool:
        return address in self.addresses


def sent(messages: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    return [(address, str(decoded(bare).subject)) for address, bare in messages]


def test_nothing_goes_out_unheard_and_ended_records_are_not_kept() -> None:
    records = VanflowRecords("src01", now=0.0, epoch=EPOCH)
    nobody = Listening()
    flow = records.start(RecordType.BIFLOW_TPORT, 0.0)
    assert flow is not None
    records.end(flow, 1.0)
    assert records.due(1.0, nobody) == []
    assert flow.identity in records.records  # a while, for the connector side's co-record
    assert records.due(6.2, nobody) == []
    assert flow.identity not in records.records and records.flow_count == 0


class LookUps(dict[str, Any]):
    count = 0

    def __getitem__(self, key: str) -> Any:
        self.count += 1
        return super().__getitem__(key)


def test_a_round_reads_live_flows_and_just_ended_ones_not_the_ended_ones_kept() -> None:
    records = VanflowRecords("src01", now=0.0, epoch=EPOCH)
    collector = Listening(records.flows_address)
    reads: dict[str, int] = {}

    def flow(name: str) -> Any:
        record = records.start(RecordType.BIFLOW_TPORT, 0.0)
        assert record is not None
        record.sample = lambda: reads.update({name: reads.get(name, 0) + 1}) or {"octets": 1}
        return record

    live, ended = flow("live"), [flow(f"ended{i}") for i in range(3)]
    for record in ended:
        records.end(record, 0.1)
    records.due(0.25, collector)
    looked_at = LookUps(records.records)
    records.records = looked_at
    for t in range(2, 17):  # 4 s of rounds
        records.due(t / 4, collector)
    assert reads == {"live": 16, "ended0": 1, "ended1": 1, "ended2": 1}
    assert looked_at.count == 2 * 15  # the live ones (router, flow): not the ended kept
    assert all(record.identity in records.records for record in ended)  # kept 5 s
    records.merge(ended[0].identity, {"connector": "cnctr:3"})  # told after its end
    records.refresh()  # a collector's FLUSH: the kept ended flows go out again too
    out = records.due(4.25, collector)
    body = [r for _, bare in out for r in decoded(bare).body]
    assert {r[CODES["identity"]] for r in body} == {live.identity} | {r.identity for r in ended}
    records.due(5.25, collector)
    assert set(records.records) == {records.router.identity, live.identity}
    assert records.flow_count == 1


def test_the_connector_side_tells_the_listener_side_of_its_flow() -> None:
    listener_side = VanflowRecords("lstnr", now=0.0, epoch=EPOCH)
    connector_side = VanflowRecords("cnctr", now=0.0, epoch=EPOCH)
    flow = listener_side.start(RecordType.BIFLOW_TPORT, 0.0)
    assert flow is not None and connector_side.co_record("cnctr:5") is None  # its own
    co_record = connector_side.co_record(flow.identity)
    assert co_record is not None
    co_record.set(connector="cnctr:3")
    connector_side.end(co_record, 0.1)
    everyone = Listening(vanflow.co_record_address("lstnr"))
    ((address, bare),) = connector_side.due(0.2, everyone)
    assert address == "vfcr.lstnr:0" and connector_side.co_records == {}
    (told,) = vanflow.decode_records(decoded(bare))
    assert told.attributes == {"connector": "cnctr:3"}  # no endTime: the flow is not its
    odd = {"99": "from a newer router", "octets": "not a number", "identity": "x:1"}
    listener_side.merge(told.identity, told.attributes | odd)
    assert flow.get("octets") is None and flow.identity == told.identity
    assert flow.get("connector") == "cnctr:3"


def test_a_collector_gets_a_beacon_at_once_then_heartbeats_and_changes() -> None:
    records = VanflowRecords("src01", now=0.0, epoch=EPOCH)
    assert sent(records.due(0.2, Listening())) == []
    collector = Listening(vanflow.ALL_ADDRESS)
    assert sent(records.due(0.5, collector)) == [("mc/sfe.all", "BEACON")]
    collector.addresses |= {records.event_address, records.flows_address}
    # its first heartbeat at once, then every 2 s; a beacon every fifth heartbeat
    kinds = [subject for t in range(6, 130) for _, subject in sent(records.due(t / 10, collector))]
    assert kinds.count("HEARTBEAT") == 7 and kinds.count("BEACON") == 1
    listener = records.start(RecordType.LISTENER, 13.0)
    assert listener is not None
    listener.set(name="web", flowCountL4=0)
    out = records.due(13.2, collector)
    (body,) = [decoded(bare).body for address, bare in out if address == records.event_address]
    assert body[0][CODES["name"]] == "web" and body[0][CODES["parent"]] == "src01:0"
    assert body[0][CODES["startTime"]] == int((13.0 + EPOCH) * 1_000_000)
    listener.set(flowCountL4=1)
    out = records.due(13.4, collector)
    (body,) = [decoded(bare).body for address, bare in out if address == records.event_address]
    assert set(body[0]) == {CODES["recordType"], CODES["identity"], CODES["flowCountL4"]}
    records.refresh()  # FLUSH: everything whole again
    out = records.due(13.6, collector)
    (body,) = [decoded(bare).body for address, bare in out if address == records.event_address]
    assert {r[CODES["identity"]] for r in body} == {"src01:0", listener.identity}
    assert CODES["name"] in body[1]


def test_a_flow_record_reads_its_counts_when_sent_and_the_limit_holds() -> None:
    records = VanflowRecords("src01", now=0.0, epoch=EPOCH)
    collector = Listening(records.flows_address)
    counts = {"octets": 10, "octetsReverse": 0}
    flow = records.start(RecordType.BIFLOW_TPORT, 0.0)
    assert flow is not None
    flow.sample = lambda: dict(counts)
    counts["octetsReverse"] = 99
    ((_, bare),) = [m for m in records.due(0.2, collector) if m[0] == records.flows_address]
    body = decoded(bare).body[0]
    assert (body[CODES["octets"]], body[CODES["octetsReverse"]]) == (10, 99)
    many = [records.start(RecordType.BIFLOW_TPORT, 0.3) for _ in range(FLOW_RECORDS_MAX + 5)]
    assert many.count(None) == 6  # the first flow counts too


def config(**entities: Any) -> RouterConfig:
    return RouterConfig(router=RouterSettings(id="r1"), **entities)


def test_the_reporter_makes_a_record_per_configured_thing_and_ends_removed_ones() -> None:
    records = VanflowRecords("src01", now=0.0, epoch=EPOCH)
    reporter = FlowReporter(records, version="1.2")
    full = config(
        site=SiteInfo(name="east", namespace="ns", platform="podman"),
        listeners={"links": AmqpListener("links", 5671, role="inter-router")},
        connectors={"to-west": AmqpConnector("to-west", "west", 5671, sslProfile="p")},
        tcp_listeners={"web": TcpListener("web", 8080, "web")},
        tcp_connectors={"db": TcpConnector("db", "dbhost", 5432, "db")},
    )
    reporter.apply_config(full, 0.0)
    by_type = {RecordType(r.type).name: r for r in records.records.values()}
    assert set(by_type) == {"ROUTER", "SITE", "ROUTER_ACCESS", "LINK", "LISTENER", "CONNECTOR"}
    assert (
        by_type["ROUTER"].get("name") == "0/r1" and by_type["ROUTER"].get("buildVersion") == "1.2"
    )
    assert by_type["ROUTER"].get("parent") == by_type["SITE"].identity
    assert by_type["SITE"].get("parent") is None and by_type["SITE"].get("platform") == "podman"
    link = by_type["LINK"]
    assert (link.get("protocol"), link.get("destPort"), link.get("operStatus")) == (
        "amqps",
        "5671",
        "down",
    )
    reporter.link_changed("to-west", True, 1.0)
    reporter.link_changed("to-west", False, 2.0, "reset")
    assert (link.get("operStatus"), link.get("downCount"), link.get("reason")) == (
        "down",
        1,
        "reset",
    )
    reporter.apply_config(config(site=full.site, tcp_connectors=full.tcp_connectors), 3.0)
    ended = {RecordType(r.type).name for r in records.records.values() if r.ended}
    assert ended == {"ROUTER_ACCESS", "LINK", "LISTENER"}
