"""Application networks of real routers on loopback: topologies, edges, balancing, failover."""

from __future__ import annotations

import concurrent.futures
import signal
import socket
import time

from .conftest import Router, RouterNet, free_port, wait_for_port
from .peers import Backend, EchoHandler, StreamHandler, echo_once, stream_through

MIB = 1024 * 1024


def serve(router: Router, backend: Backend, key: str = "svc") -> None:
    router.add("tcpConnector", name=f"{key}-{router.name}", host="127.0.0.1",
               port=backend.port, address=key)


def expose(router: Router, key: str = "svc") -> int:
    port = free_port()
    router.add("tcpListener", name=key, host="127.0.0.1", port=port, address=key)
    return port


def test_line_of_four_interior_routers(net: RouterNet) -> None:
    routers = [net.router(f"r{i}", link_access=True) for i in range(4)]
    for left, right in zip(routers, routers[1:], strict=False):
        net.link(right, left)
    backend = Backend(StreamHandler, send_size=8 * MIB)
    serve(routers[3], backend)
    port = expose(routers[0])
    net.start()
    wait_for_port(port, timeout=20)
    result = stream_through(port, 8 * MIB)
    assert result.received == 8 * MIB
    assert backend.has_result((result.sent_sha, result.received_sha))
    backend.close()


def test_hub_with_three_edges_edge_to_edge(net: RouterNet) -> None:
    hub = net.router("hub", link_access=True)
    edges = [net.router(f"edge{i}", mode="edge") for i in range(3)]
    for edge in edges:
        net.link(edge, hub)
    backend = Backend(EchoHandler)
    serve(edges[2], backend)
    ports = [expose(edges[0]), expose(edges[1]), expose(hub)]
    net.start()
    for port in ports:
        wait_for_port(port, timeout=20)
        payload = f"via {port}".encode() * 100
        assert echo_once(port, payload) == payload
    backend.close()
