"""HTTP observation on real routers: curl through a listener to real HTTP/1.1 and HTTP/2
servers; every reply arrives whole, and each request shows in the listener router's
Prometheus figures and as a BIFLOW_APP record (read by the console's collector) under its
flow's record. A listener with observer none counts nothing."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skupper_podman.console.collector import Collector
from tests.ports import free_port
from tests.routernet import Router, RouterNet, wait_for_port

from .http_peers import H2Backend, Http1Backend, body
from .test_metrics import scrape

SIZES = (10, 70_000, 300)


@pytest.fixture
def http1() -> Iterator[Http1Backend]:
    backend = Http1Backend()
    yield backend
    backend.close()


@pytest.fixture
def h2c() -> Iterator[H2Backend]:
    backend = H2Backend()
    yield backend
    backend.close()


def two_routers(net: RouterNet, backend_port: int, observer: str | None) -> tuple[Router, int, int]:
    """east (a listener for "web", metrics, management) linked to west (the connector)."""
    west = net.router("west", link_access=True)
    east = net.router("east", management=True)
    net.link(east, west)
    west.add("tcpConnector", name="web", host="127.0.0.1", port=backend_port, address="web")
    port, metrics_port = free_port(), free_port()
    extra = {"observer": observer} if observer else {}
    east.add("tcpListener", name="web", host="127.0.0.1", port=port, address="web", **extra)
    east.add("metrics", host="127.0.0.1", port=metrics_port)
    net.start()
    wait_for_port(port, timeout=20)
    return east, port, metrics_port


def curl(*args: str) -> bytes:
    done = subprocess.run(["curl", "-sS", "--fail-with-body", "--max-time", "20", *args],
                          capture_output=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def wait_for_samples(metrics_port: int, name: str, count: int) -> dict[str, float]:
    deadline = time.monotonic() + 10
    while True:
        samples = scrape(metrics_port)
        if samples.get(name, 0) >= count or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def test_http1_requests_through_a_listener_are_counted_and_recorded(
    net: RouterNet, http1: Http1Backend, tmp_path: Path
) -> None:
    east, port, metrics_port = two_routers(net, http1.port, None)  # observer: auto
    collector = Collector(f"amqp://127.0.0.1:{east.management_port}").start()
    try:
        # requests' records go out only while a collector listens: wait until it does
        deadline = time.monotonic() + 20
        # (both routers: the collector subscribes to each one's records as its beacon
        # comes; west's ROUTER record alone left east's flows unheard for the first
        # three requests in CI at 83d4faf)
        while len(collector.snapshot().of_type("ROUTER")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        urls = [f"http://127.0.0.1:{port}/{size}" for size in SIZES]
        # one connection (curl keeps it alive), three GETs, then a POST and a 404
        replies = curl(*urls, "-H", "X-Forwarded-For: 198.51.100.7")
        assert replies == b"".join(body(size) for size in SIZES)
        posted = tmp_path / "posted"
        posted.write_bytes(b"p" * 5000)
        replies = curl("--data-binary", f"@{posted}", f"http://127.0.0.1:{port}/",
                       "--next", f"http://127.0.0.1:{port}/missing")  # fmt: skip
        assert replies == hashlib.sha256(b"p" * 5000).hexdigest().encode() + b"no such thing\n"
        name = 'skupper_router_http_request_latency_seconds_count{router="east",address="web"}'
        samples = wait_for_samples(metrics_port, name, 5)
        service = 'router="east",address="web"'
        assert (
            samples[f'skupper_router_http_requests_total{{{service},method="GET",status="2xx"}}']
            == 3
        )
        assert (
            samples[f'skupper_router_http_requests_total{{{service},method="POST",status="2xx"}}']
            == 1
        )
        assert (
            samples[f'skupper_router_http_requests_total{{{service},method="GET",status="4xx"}}']
            == 1
        )
        assert samples[name] == 5
        assert (
            samples[
                f'skupper_router_http_request_body_bytes_total{{{service},direction="request"}}'
            ]
            == 5000
        )
        responses = sum(SIZES) + 64 + len(b"no such thing\n")
        assert (
            samples[
                f'skupper_router_http_request_body_bytes_total{{{service},direction="response"}}'
            ]
            == responses
        )

        def requests() -> list[dict[str, Any]]:
            snapshot = collector.snapshot()
            return [
                r.attributes for r in snapshot.of_type("BIFLOW_APP") if "endTime" in r.attributes
            ]

        deadline = time.monotonic() + 15
        while len(requests()) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        found = requests()
        assert sorted((r["method"], r["result"], r["octetsReverse"]) for r in found) == sorted(
            [("GET", "200", size) for size in SIZES] + [("POST", "200", 64), ("GET", "404", 14)]
        )
        assert all(r["protocol"] == "HTTP/1.1" and r["latency"] >= 0 for r in found)
        flows = {r.identity: r for r in collector.snapshot().of_type("BIFLOW_TPORT")}
        assert all(r["parent"] in flows for r in found)
        assert {
            r.get("sourceHost") for r in found if r["method"] == "GET" and r["result"] == "200"
        } == {"198.51.100.7"}
    finally:
        collector.stop()


def test_http2_streams_through_a_listener_are_counted(
    net: RouterNet, h2c: H2Backend, tmp_path: Path
) -> None:
    east, port, metrics_port = two_routers(net, h2c.port, "http2")
    sizes = (100, 20_000, 7)
    # -Z --parallel-immediate: a connection each, at once (this curl fails a second
    # transfer on a reused h2c connection, to the h2 server directly as well; streams
    # sharing a connection are tested in test_http_observer.py)
    outputs = [tmp_path / f"reply-{size}" for size in sizes]
    args = [a for size, out in zip(sizes, outputs, strict=True)
            for a in (f"http://127.0.0.1:{port}/{size}", "-o", str(out))]  # fmt: skip
    curl("-Z", "--parallel-immediate", "--http2-prior-knowledge", *args)
    assert [out.read_bytes() for out in outputs] == [body(size) for size in sizes]
    service = 'router="east",address="web"'
    name = f'skupper_router_http_requests_total{{{service},method="GET",status="2xx"}}'
    samples = wait_for_samples(metrics_port, name, 3)
    assert samples[name] == 3
    response = f'skupper_router_http_request_body_bytes_total{{{service},direction="response"}}'
    assert samples[response] == sum(sizes)
    assert east.query("tcpListener")[0]["observer"] == "http2"


def test_observer_none_counts_nothing(net: RouterNet, http1: Http1Backend) -> None:
    _, port, metrics_port = two_routers(net, http1.port, "none")
    assert curl(f"http://127.0.0.1:{port}/20") == body(20)
    name = 'skupper_router_service_flows_total{router="east",address="web"}'
    samples = wait_for_samples(metrics_port, name, 2)  # the port probe's flow, then curl's
    assert samples[name] == 2
    assert not [key for key in samples if "http_request" in key]
