"""TCP flows through two real routers linked by mutual TLS on loopback."""

from __future__ import annotations

import concurrent.futures
import signal
import socket
import ssl
import struct
import time

import pytest

from tests.ports import free_port
from tests.routernet import Router, RouterNet, wait_for_port

from .peers import Backend, EchoHandler, StreamHandler, echo_once, stream_through, wait_closed

MIB = 1024 * 1024


def two_sites(
    net: RouterNet, backend_port: int, *, trace_frames: bool = False
) -> tuple[Router, Router, int]:
    """west (link access, connector to the backend) <- east (listener); returns east's port."""
    west = net.router("west", link_access=True)
    east = net.router("east")
    east.trace_frames = trace_frames
    net.link(east, west)
    west.add("tcpConnector", name="backend", host="127.0.0.1", port=backend_port, address="backend")
    listener_port = free_port()
    east.add("tcpListener", name="backend", host="127.0.0.1", port=listener_port, address="backend")
    net.start()
    wait_for_port(listener_port)
    return west, east, listener_port


def test_64_mib_each_way_arrive_intact(net: RouterNet) -> None:
    backend = Backend(StreamHandler, send_size=64 * MIB)
    _, _, port = two_sites(net, backend.port)
    result = stream_through(port, 64 * MIB)
    assert result.received == 64 * MIB
    # what the backend received / sent (the readiness probe made an empty flow before)
    assert backend.has_result((result.sent_sha, result.received_sha))
    backend.close()


def test_200_concurrent_connections(net: RouterNet) -> None:
    backend = Backend(EchoHandler)
    _, _, port = two_sites(net, backend.port)

    def one(i: int) -> bool:
        payload = f"flow {i} ".encode() * 1000
        return echo_once(port, payload, timeout=30) == payload

    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        results = list(pool.map(one, range(200)))
    assert all(results)
    backend.close()


def test_a_client_s_first_bytes_go_in_the_flow_s_first_transfer(net: RouterNet) -> None:
    """A client that spoke before its connection was accepted: its bytes go out with the
    flow's header in one transfer, not in one of their own a loop turn later."""
    backend = Backend(EchoHandler)
    _, east, port = two_sites(net, backend.port, trace_frames=True)
    assert echo_once(port, b"warm-up", timeout=20) == b"warm-up"  # the links are attached
    assert east.process is not None
    east.process.send_signal(signal.SIGSTOP)  # the accept waits until the bytes are there
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(b"spoke-first")
    finally:
        east.process.send_signal(signal.SIGCONT)
    with sock:
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(64) == b"spoke-first"
    # a flow's first transfer: the router annotations and the header, to the address
    headers = [
        line
        for line in east.log.splitlines()
        if "-> @transfer" in line and "SKPR" in line and "backend" in line and "opcode" not in line
    ]
    assert "spoke-first" in headers[-1], headers[-1]  # the last flow's
    backend.close()


def test_a_client_reset_before_its_accept_leaves_the_router_serving(net: RouterNet) -> None:
    backend = Backend(EchoHandler)
    _, east, port = two_sites(net, backend.port)
    assert east.process is not None
    east.process.send_signal(signal.SIGSTOP)
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset, waiting with the connection to be accepted
    finally:
        east.process.send_signal(signal.SIGCONT)
    assert echo_once(port, b"after", timeout=20) == b"after"
    assert "Traceback" not in east.log
    backend.close()


def test_half_close_still_receives_whole_reply(net: RouterNet) -> None:
    backend = Backend(StreamHandler, send_size=4 * MIB)
    _, _, port = two_sites(net, backend.port)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"request")
        sock.shutdown(socket.SHUT_WR)  # our write side is closed before any reply arrives
        received = 0
        while data := sock.recv(65536):
            received += len(data)
    assert received == 4 * MIB
    backend.close()


def test_backend_refused_closes_client_within_a_second(net: RouterNet) -> None:
    refused_port = free_port()  # nothing listens there
    _, _, port = two_sites(net, refused_port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"hello")
        assert wait_closed(sock, timeout=5) < 1.0


def test_listener_accepts_only_while_a_connector_exists(net: RouterNet) -> None:
    backend = Backend(EchoHandler)
    west, _, port = two_sites(net, backend.port)
    assert echo_once(port, b"ping") == b"ping"
    west.remove("tcpConnector", "backend")
    west.reload()
    wait_for_port(port, open_=False)
    west.add("tcpConnector", name="backend", host="127.0.0.1", port=backend.port, address="backend")
    west.reload()
    wait_for_port(port)
    assert echo_once(port, b"again") == b"again"
    backend.close()


def test_config_change_keeps_established_flows(net: RouterNet) -> None:
    backend = Backend(EchoHandler)
    west, east, port = two_sites(net, backend.port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"before")
        assert sock.recv(100) == b"before"
        other = free_port()
        east.add("tcpListener", name="other", host="127.0.0.1", port=other, address="other")
        east.reload()
        west.add("tcpConnector", name="other", host="127.0.0.1", port=backend.port, address="other")
        west.reload()
        wait_for_port(other)
        sock.sendall(b"after")
        assert sock.recv(100) == b"after"
    assert echo_once(other, b"new") == b"new"
    backend.close()


def test_local_listener_and_connector_on_one_router(net: RouterNet) -> None:
    backend = Backend(StreamHandler, send_size=2 * MIB)
    solo = net.router("solo")
    solo.add("tcpConnector", name="b", host="127.0.0.1", port=backend.port, address="b")
    port = free_port()
    solo.add("tcpListener", name="b", host="127.0.0.1", port=port, address="b")
    net.start()
    wait_for_port(port)
    result = stream_through(port, 3 * MIB)
    assert result.received == 2 * MIB
    assert backend.has_result((result.sent_sha, result.received_sha))
    backend.close()


def _inter_router_port(net: RouterNet) -> int:
    west = net.router("west", link_access=True)
    net.start()
    wait_for_port(west.inter_router_port)
    return west.inter_router_port


def test_inter_router_port_refuses_tls_client_without_certificate(net: RouterNet) -> None:
    port = _inter_router_port(net)
    context = ssl.create_default_context(cafile=str(net.folder / "west" / "server" / "ca.crt"))
    refused = pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with raw, refused, context.wrap_socket(raw, server_hostname="localhost") as tls:
        # TLS 1.3 reports the missing client certificate on the first read.
        tls.sendall(b"AMQP\x03\x01\x00\x00")
        if not tls.recv(100):
            raise ConnectionResetError("closed without an answer")


def test_inter_router_port_refuses_plain_tcp(net: RouterNet) -> None:
    port = _inter_router_port(net)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"AMQP\x00\x01\x00\x00")
        start = time.monotonic()
        answer = b""
        try:
            while data := sock.recv(100):
                answer += data
        except ConnectionResetError:
            pass
        assert time.monotonic() - start < 5
        assert b"AMQP\x00" not in answer  # never an AMQP session in the clear
