"""The Prometheus endpoint of a real router: counters after real flows."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.request
from pathlib import Path

from tests.ports import free_port
from tests.routernet import RouterNet, wait_for_port

from .peers import Backend, EchoHandler, echo_once


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return samples_of(text)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=5)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(self.socket_path))


def scrape_unix(path: Path) -> dict[str, float]:
    """GET /metrics over a unix socket (curl --unix-socket PATH http://localhost/metrics)."""
    connection = UnixHTTPConnection(path)
    try:
        connection.request("GET", "/metrics")
        reply = connection.getresponse()
        assert reply.status == 200
        return samples_of(reply.read().decode())
    finally:
        connection.close()


def samples_of(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_count_flows_bytes_and_links(net: RouterNet) -> None:
    west = net.router("west", link_access=True)
    east = net.router("east")
    net.link(east, west)
    backend = Backend(EchoHandler)
    west.add("tcpConnector", name="svc", host="127.0.0.1", port=backend.port, address="svc")
    port, metrics_port = free_port(), free_port()
    east.add("tcpListener", name="svc", host="127.0.0.1", port=port, address="svc")
    east.add("metrics", host="127.0.0.1", port=metrics_port)
    net.start()
    wait_for_port(port, timeout=20)
    before = scrape(metrics_port)
    for _ in range(3):
        assert echo_once(port, b"x" * 1000) == b"x" * 1000
    after = scrape(metrics_port)
    labels = 'router="east",tcp_listener="svc",address="svc"'
    opened = f"skupper_router_tcp_listener_connections_opened_total{{{labels}}}"
    assert after[opened] - before[opened] == 3
    assert after[f"skupper_router_tcp_listener_bytes_in_total{{{labels}}}"] >= 3000
    assert after['skupper_router_link_up{router="east",link="link-west",role="inter-router"}'] == 1
    assert after['skupper_router_routers_known{router="east"}'] == 2
    # per service: flows and a histogram of the time to the first reply byte
    service = 'router="east",address="svc"'
    histogram = "skupper_router_service_reply_latency_seconds"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # a flow is counted once the router saw it end
        after = scrape(metrics_port)
        if after.get(f"{histogram}_count{{{service}}}", 0) >= 3:
            break
        time.sleep(0.1)
    count = after[f"{histogram}_count{{{service}}}"]
    assert count >= 3 and after[f'{histogram}_bucket{{{service},le="+Inf"}}'] == count
    assert 0 < after[f"{histogram}_sum{{{service}}}"] < count * 10
    assert after[f'{histogram}_bucket{{{service},le="10.0"}}'] == count
    assert after[f"skupper_router_service_flows_total{{{service}}}"] >= count
    backend.close()


def test_metrics_refuse_a_non_loopback_host(net: RouterNet) -> None:
    router = net.router("solo")
    router.add("metrics", host="0.0.0.0", port=free_port())
    router.start()
    assert router.process is not None
    assert router.process.wait(10) != 0
    assert "not a loopback address" in router.log


def test_metrics_on_a_unix_socket_replace_a_stale_one(net: RouterNet) -> None:
    """As on container sites: the path is relative to the config's folder; a socket file
    left by a killed router does not stop the next one."""
    west = net.router("west", link_access=True)
    east = net.router("east")
    net.link(east, west)
    (east.folder / "sockets").mkdir()
    stale = east.folder / "sockets" / "metrics.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as leftover:
        leftover.bind(str(stale))  # bound, never listening: what a SIGKILL leaves behind
    east.add("metrics", path="sockets/metrics.sock")
    net.start()
    deadline = time.monotonic() + 20
    last: object = None
    while True:
        try:
            samples = scrape_unix(stale)
            if samples.get('skupper_router_routers_known{router="east"}') == 2:
                break
            last = samples
        except OSError as error:
            last = error
        assert time.monotonic() < deadline, f"no metrics with west known: {last}"
        time.sleep(0.2)
    link = 'skupper_router_link_up{router="east",link="link-west",role="inter-router"}'
    assert samples[link] == 1
    time.sleep(3)  # the server stays up (an unreferenced one was once collected and closed)
    assert scrape_unix(stale)[link] == 1
