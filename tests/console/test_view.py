"""The console's view of the network, made from flow records alone (no I/O)."""

from __future__ import annotations

from skupper_podman.console.collector import Snapshot
from skupper_podman.console.view import network_view
from skupper_podman.router.vanflow import DecodedRecord


def record(kind: str, identity: str, **attributes: object) -> DecodedRecord:
    return DecodedRecord(kind, identity, dict(attributes))


def test_records_make_sites_links_services_and_flows() -> None:
    records = [
        record("SITE", "aaaaa:1", name="east", platform="podman"),
        record("ROUTER", "aaaaa:0", name="0/east", mode="interior", parent="aaaaa:1"),
        record("ROUTER", "bbbbb:0", name="0/hub", mode="interior"),  # no SITE record
        record("ROUTER_ACCESS", "bbbbb:2", parent="bbbbb:0", name="links", role="inter-router"),
        record("LINK", "aaaaa:3", parent="aaaaa:0", peer="bbbbb:2", operStatus="up", linkCost=3),
        record("LINK", "aaaaa:4", parent="aaaaa:0", peer="ccccc:9", operStatus="up"),  # unknown
        record(
            "LISTENER", "aaaaa:5", parent="aaaaa:0", name="db", vanAddress="db", destPort="5432"
        ),
        record(
            "CONNECTOR",
            "bbbbb:6",
            parent="bbbbb:0",
            name="db",
            vanAddress="db",
            destHost="10.0.0.5",
            destPort="5432",
        ),
        record(
            "BIFLOW_TPORT",
            "aaaaa:7",
            parent="aaaaa:5",
            connector="bbbbb:6",
            octets=10,
            octetsReverse=20,
            startTime=1_000_000,
            endTime=3_500_000,
            latency=1500,
        ),
        record("BIFLOW_TPORT", "aaaaa:8", parent="aaaaa:5", startTime=4_000_000),
    ]
    view = network_view(Snapshot(records={r.identity: r for r in records}), now_us=5_000_000)
    assert view.sites == {"east": "podman", "hub": ""}
    assert [(r.name, r.site) for r in view.routers] == [("east", "east"), ("hub", "")]
    (link,) = view.links
    assert (link.source, link.target, link.cost, link.up) == ("east", "hub", 3, True)
    db = {(e.kind, e.site, e.port) for e in view.services["db"]}
    assert db == {("listener", "east", "5432"), ("connector", "hub", "5432")}
    live, ended = view.flows
    assert (live.live, live.seconds, live.connector_site) == (True, 1.0, "")
    assert (ended.bytes_in, ended.bytes_out, ended.seconds, ended.latency_ms) == (10, 20, 2.5, 1.5)
    assert ended.connector_site == "hub" and ended.key == "db"
    assert view.to_dict()["links"] == [
        {"source": "east", "target": "hub", "role": "", "cost": 3, "up": True}
    ]
