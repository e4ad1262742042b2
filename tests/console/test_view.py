"""The console's view of the network, made from flow records alone (no I/O)."""

from __future__ import annotations

import pytest

from skupper_podman.console import collector
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


def test_http_requests_of_the_last_minute_per_service() -> None:
    now = 100_000_000
    records = [
        record("LISTENER", "aaaaa:5", name="web", vanAddress="web"),
        record("BIFLOW_TPORT", "aaaaa:7", parent="aaaaa:5", startTime=now - 1),
        *[
            record(
                "BIFLOW_APP",
                f"aaaaa:{10 + n}",
                parent="aaaaa:7",
                method="GET",
                result="200",
                latency=1000 * (n + 1),
                startTime=now - 1_000_000,
            )
            for n in range(20)
        ],
        record("BIFLOW_APP", "aaaaa:40", parent="aaaaa:7", method="POST", startTime=now),
        record(
            "BIFLOW_APP",
            "aaaaa:41",
            parent="aaaaa:7",
            method="PUT",
            result="503",
            latency=1,
            startTime=now - 61_000_000,
        ),
    ]
    view = network_view(Snapshot(records={r.identity: r for r in records}), now_us=now)
    web = view.http["web"]
    assert (web.requests, web.per_second) == (21, 0.35)
    assert web.statuses == {"2xx": 20, "none": 1}
    assert web.methods == {"GET": 20, "POST": 1}
    assert (web.latency_p50_ms, web.latency_p95_ms) == (10.0, 19.0)
    assert view.to_dict()["http"]["web"]["requests"] == 21


def test_the_collector_forgets_the_oldest_ended_flows_beyond_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector, "ENDED_FLOWS_KEPT", 3)
    seen = Snapshot()
    seen.merge(record("LISTENER", "a:1", name="web", endTime=5))  # not a flow: kept
    for n in range(5):
        seen.merge(record("BIFLOW_APP", f"a:{10 + n}", method="GET"))
        seen.merge(record("BIFLOW_APP", f"a:{10 + n}", endTime=n))  # what changed: ended
    seen.merge(record("BIFLOW_TPORT", "a:20", startTime=1))  # live: kept
    assert sorted(seen.records) == ["a:1", "a:12", "a:13", "a:14", "a:20"]
    assert seen.records["a:14"].attributes == {"method": "GET", "endTime": 4}
