"""Flow records (vanflow) in a mixed network: one collector, attached to either router,
hears both routers' BEACONs, reads both routers' records with one decoder, and sees a
flow's record with its bytes each way, whichever kind of router the client used."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from skupper_podman.console.collector import Collector, Snapshot
from tests.router.http_peers import H2Backend, Http1Backend, body
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import RouterNet

from .chains import KEY, build


def wait_for(
    what: str, collector: Collector, check: Callable[[Snapshot], Any], timeout: float = 30
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check(collector.snapshot())
        if found:
            return found
        time.sleep(0.2)
    seen = collector.snapshot()
    records = [(r.type, r.identity) for r in seen.records.values()]
    raise AssertionError(
        f"{what} not seen in {timeout:.0f} s (collector error: {collector.error or 'none'}); "
        f"sources {sorted(seen.sources)}, records {records}"
    )


CASES = [
    ("ours-sk", "first"),
    ("ours-sk", "last"),
    ("sk-ours", "first"),
    ("sk-ours", "last"),
    ("sk-ours-sk", "first"),  # multicast records through a transit router of either kind
    ("ours-sk-ours", "first"),
    ("ours:edge-sk", "last"),  # an edge's records go up its uplink
    ("sk:edge-ours", "last"),
    ("ours:edge-sk", "first"),  # a collector on an edge hears the interior's
    ("sk:edge-ours", "first"),
]


@pytest.mark.parametrize(("spec", "attached"), CASES)
def test_one_collector_reads_both_kinds_of_router(net: RouterNet, spec: str, attached: str) -> None:
    backend = Backend(EchoHandler)
    chain = build(net, spec, backend)
    first, last = chain.routers[0], chain.routers[-1]
    at = first if attached == "first" else last
    collector = Collector(f"amqp://127.0.0.1:{at.management_port}").start()
    try:
        names = {f"0/{router.name}" for router in chain.routers}

        def routers(seen: Snapshot) -> bool:
            found = {r.attributes.get("name") for r in seen.of_type("ROUTER")}
            heard = all(s.heartbeats for s in seen.sources.values())
            return names <= found and len(seen.sources) == len(names) and heard

        wait_for("both routers' ROUTER records", collector, routers)
        seen = collector.snapshot()
        by_name = {r.attributes["name"]: r for r in seen.of_type("ROUTER")}
        for router in chain.routers:
            record = by_name[f"0/{router.name}"]
            assert record.attributes["mode"] == router.mode
            source = record.identity.split(":")[0]
            assert f"{source}:0" == record.identity and f"{source}:0" in seen.sources

        def services(seen: Snapshot) -> bool:
            listeners = [
                r for r in seen.of_type("LISTENER") if r.attributes.get("vanAddress") == KEY
            ]
            connectors = [
                r for r in seen.of_type("CONNECTOR") if r.attributes.get("vanAddress") == KEY
            ]
            return bool(listeners and connectors)

        wait_for("the listener's and the connector's records", collector, services)

        def links_named_their_peers(seen: Snapshot) -> bool:
            # each link names the link listener (ROUTER_ACCESS) it came in on, at the far end
            access = {r.identity for r in seen.of_type("ROUTER_ACCESS")}
            links = seen.of_type("LINK")
            up = [r for r in links if r.attributes.get("operStatus") == "up"]
            return len(up) == len(chain.routers) - 1 and all(
                r.attributes.get("peer") in access for r in links
            )

        wait_for(
            "every link up, naming its peer's link listener", collector, links_named_their_peers
        )
        listener = next(r for r in collector.snapshot().of_type("LISTENER"))
        assert listener.attributes["protocol"] == "tcp"
        assert listener.attributes["destPort"] == str(chain.port)
        assert listener.attributes["parent"] == by_name[f"0/{first.name}"].identity

        payload = b"x" * 3000
        assert echo_once(chain.port, payload) == payload

        def flow(seen: Snapshot) -> Any:
            for record in seen.of_type("BIFLOW_TPORT"):
                a = record.attributes
                if (
                    a.get("parent") == listener.identity
                    and a.get("endTime")
                    and a.get("octets") == 3000
                ):
                    return record
            return None

        record = wait_for("the flow's BIFLOW_TPORT record, ended", collector, flow)
        assert record.attributes["octetsReverse"] == 3000
        assert record.attributes["startTime"] <= record.attributes["endTime"]
        # the connector's router told the listener's which connector served the flow
        connector = next(
            r
            for r in collector.snapshot().of_type("CONNECTOR")
            if r.attributes["vanAddress"] == KEY
        )

        def served(seen: Snapshot) -> bool:
            found = seen.records.get(record.identity)
            return found is not None and found.attributes.get("connector") == connector.identity

        wait_for("the flow record's connector", collector, served, timeout=15)
    finally:
        collector.stop()
        backend.close()


HTTP_RECORD = {  # what both kinds of router set in a BIFLOW_APP record, besides times
    "http1": {"protocol": "HTTP/1.1", "method": "GET", "octets": 0, "sourceHost": "198.51.100.7"},
    "http2": {"protocol": "HTTP/2", "method": "GET", "octets": 0, "sourceHost": "198.51.100.7"},
}


@pytest.mark.parametrize("protocol", ["http1", "http2"])
@pytest.mark.parametrize("spec", ["ours-sk", "sk-ours"])
def test_http_requests_are_recorded_alike_by_both_kinds_of_router(
    net: RouterNet, spec: str, protocol: str, tmp_path: Path
) -> None:
    """The listener's router (ours or skupper-router, observer auto) makes the same
    BIFLOW_APP records of the same requests: the same attributes, the same values."""
    backend = Http1Backend() if protocol == "http1" else H2Backend()
    chain = build(net, spec, backend)
    collector = Collector(f"amqp://127.0.0.1:{chain.routers[0].management_port}").start()
    try:
        wait_for("the listener's record", collector, lambda seen: seen.of_type("LISTENER"))
        url = f"http://127.0.0.1:{chain.port}"
        found, missing = tmp_path / "found", tmp_path / "missing"
        # h2c: a connection each (-Z --parallel-immediate), see test_http_observation.py
        mode = (
            ["-Z", "--parallel-immediate", "--http2-prior-knowledge"] if protocol == "http2" else []
        )
        done = subprocess.run(
            ["curl", "-sS", "--max-time", "20", *mode, "-H", "X-Forwarded-For: 198.51.100.7",
             f"{url}/100", "-o", str(found), f"{url}/missing", "-o", str(missing)],
            capture_output=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        assert found.read_bytes() == body(100)

        def both_ended(seen: Snapshot) -> list[dict[str, Any]]:
            ended = [r.attributes for r in seen.of_type("BIFLOW_APP") if "endTime" in r.attributes]
            return ended if len(ended) == 2 else []

        records = sorted(wait_for("two ended requests", collector, both_ended),
                         key=lambda a: a["result"])  # fmt: skip
        common = HTTP_RECORD[protocol]
        extra = {"reason": "OK"} if protocol == "http1" else {"streamId": records[0]["streamId"]}
        timing = ("startTime", "endTime", "latency", "parent")
        assert {k: v for k, v in records[0].items() if k not in timing} == (
            common | {"result": "200", "octetsReverse": 100} | extra
        )
        extra = (
            {"reason": "Not Found"} if protocol == "http1" else {"streamId": records[1]["streamId"]}
        )
        assert {k: v for k, v in records[1].items() if k not in timing} == (
            common | {"result": "404", "octetsReverse": 14} | extra
        )
        parents = {record["parent"] for record in records}

        def flows(seen: Snapshot) -> bool:
            return parents <= {r.identity for r in seen.of_type("BIFLOW_TPORT")}

        wait_for("the requests' flow records", collector, flows)
        for record in records:
            assert record["startTime"] + record["latency"] <= record["endTime"]
    finally:
        collector.stop()
        backend.close()
