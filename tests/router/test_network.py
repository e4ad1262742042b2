"""Application networks of real routers on loopback: topologies, edges, balancing, failover."""

from __future__ import annotations

import concurrent.futures
import itertools
import signal
import socket
import time

from tests.ports import free_port
from tests.routernet import Router, RouterNet, wait_for_port

from .peers import Backend, EchoHandler, StreamHandler, echo_once, stream_through

MIB = 1024 * 1024


def serve(router: Router, backend: Backend, key: str = "svc") -> None:
    router.add(
        "tcpConnector",
        name=f"{key}-{router.name}",
        host="127.0.0.1",
        port=backend.port,
        address=key,
    )


def expose(router: Router, key: str = "svc") -> int:
    port = free_port()
    router.add("tcpListener", name=key, host="127.0.0.1", port=port, address=key)
    return port


def test_line_of_four_interior_routers(net: RouterNet) -> None:
    routers = [net.router(f"r{i}", link_access=True) for i in range(4)]
    for left, right in itertools.pairwise(routers):
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


def test_full_mesh_of_five(net: RouterNet) -> None:
    routers = [net.router(f"m{i}", link_access=True) for i in range(5)]
    for i, source in enumerate(routers):
        for target in routers[:i]:
            net.link(source, target)
    backend = Backend(EchoHandler)
    serve(routers[4], backend)
    ports = [expose(r) for r in routers[:4]]
    net.start()
    for port in ports:
        wait_for_port(port, timeout=20)
        assert echo_once(port, b"mesh" * 1000) == b"mesh" * 1000
    backend.close()


def echo_until(port: int, payload: bytes, deadline: float, failure: str) -> None:
    """Open new flows until one echoes ``payload``; fail with ``failure`` at ``deadline``."""
    while True:
        try:
            if echo_once(port, payload, timeout=2) == payload:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


def diamond(net: RouterNet) -> tuple[Router, Backend, int]:
    """a - (b | c) - d, b the cheaper path, an echo service on d exposed on a: returns b,
    the backend and a's listener port once a flow has gone through b."""
    a, b, c, d = (net.router(n, link_access=True, management=True) for n in "abcd")
    net.link(b, a)
    net.link(c, a, cost=5)
    net.link(d, b)
    net.link(d, c, cost=5)
    backend = Backend(EchoHandler)
    serve(d, backend)
    port = expose(a)
    net.start()
    wait_for_port(port, timeout=20)
    # both directions of a flow go through b only once both ends route through it: a flow
    # opened earlier may go (and stay) through c
    deadline = time.monotonic() + 20
    while (a.next_hop("d"), d.next_hop("a")) != ("b", "b"):
        assert time.monotonic() < deadline, "a and d never routed to each other through b"
        time.sleep(0.05)
    assert echo_once(port, b"via b") == b"via b"
    return b, backend, port


def test_diamond_survives_the_loss_of_a_middle_router(net: RouterNet) -> None:
    """a - (b | c) - d; b is cheaper. Killing b moves traffic to c within 5 s."""
    b, backend, port = diamond(net)
    b.kill(signal.SIGKILL)
    echo_until(port, b"via c", time.monotonic() + 5.0, "no new flow succeeded within 5 s")
    for _ in range(20):  # after detection, every new flow succeeds
        assert echo_once(port, b"steady") == b"steady"
    backend.close()


def test_three_sites_share_a_routing_key_and_one_dies(net: RouterNet) -> None:
    hub = net.router("hub", link_access=True)
    servers = [net.router(f"s{i}", link_access=True) for i in range(3)]
    backends = [Backend(EchoHandler) for _ in servers]
    counts = [0, 0, 0]
    for i, (router, backend) in enumerate(zip(servers, backends, strict=True)):
        net.link(router, hub)
        router.add("tcpConnector", name="svc", host="127.0.0.1", port=backend.port, address="svc")
        backend.RequestHandlerClass = _counting(counts, i)
    port = expose(hub)
    net.start()
    wait_for_port(port, timeout=20)
    time.sleep(2)  # let every server's address reach the hub

    def flow(i: int) -> bool:
        return echo_once(port, f"flow {i}".encode(), timeout=20) == f"flow {i}".encode()

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        assert all(pool.map(flow, range(300)))
    # Balanced by fewest outstanding flows: a server whose router the machine starves gets
    # fewer (once 38 of 300 on a loaded machine); each must still take its share.
    assert all(count >= 30 for count in counts), counts
    servers[0].kill(signal.SIGKILL)
    time.sleep(3.5)  # HELLO silence detection (the connection drop is seen at once anyway)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        assert all(pool.map(flow, range(100)))
    for backend in backends:
        backend.close()


def test_one_connection_after_another_takes_turns_among_equal_connectors(
    net: RouterNet,
) -> None:
    router = net.router("solo")
    counts = [0, 0]
    backends = [Backend(_counting(counts, i)) for i in range(2)]
    for i, backend in enumerate(backends):
        router.add(
            "tcpConnector", name=f"svc-{i}", host="127.0.0.1", port=backend.port, address="svc"
        )
    port = expose(router)
    net.start()
    wait_for_port(port, timeout=20)
    before = list(counts)
    for i in range(20):  # each ends before the next starts: no flow is outstanding
        assert echo_once(port, f"flow {i}".encode(), timeout=10) == f"flow {i}".encode()
    taken = [after - b for after, b in zip(counts, before, strict=True)]
    # every second one each (wait_for_port's probe, a flow too, may land in either count)
    assert min(taken) >= 10 and sum(taken) <= 21, taken
    for backend in backends:
        backend.close()


def _counting(counts: list[int], index: int) -> type[EchoHandler]:
    class Counting(EchoHandler):
        def handle(self) -> None:
            counts[index] += 1
            super().handle()

    return Counting


def test_thousand_concurrent_flows_over_three_hops(net: RouterNet) -> None:
    routers = [net.router(f"h{i}", link_access=True) for i in range(3)]
    net.link(routers[1], routers[0])
    net.link(routers[2], routers[1])
    backend = Backend(EchoHandler)
    serve(routers[2], backend)
    port = expose(routers[0])
    net.start()
    wait_for_port(port, timeout=20)
    sockets = []
    try:
        for i in range(1000):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(f"{i:06d}".encode() * 100)
            sockets.append(sock)
        for i, sock in enumerate(sockets):
            expected = f"{i:06d}".encode() * 100
            got = b""
            while len(got) < len(expected):
                data = sock.recv(65536)
                assert data, f"flow {i} closed early"
                got += data
            assert got == expected
    finally:
        for sock in sockets:
            sock.close()
    backend.close()


def test_stalled_reader_keeps_router_memory_flat(net: RouterNet) -> None:
    """A client that never reads: the backend's sender is held back, RSS stays bounded."""
    backend = Backend(StreamHandler, send_size=512 * MIB)
    west = net.router("west", link_access=True)
    east = net.router("east")
    net.link(east, west)
    serve(west, backend)
    port = expose(east)
    net.start()
    wait_for_port(port, timeout=20)
    time.sleep(0.5)
    baseline = max(west.rss_kib(), east.rss_kib())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"go")
        time.sleep(3)  # nobody reads: windows fill up and everything stops
        grown = max(west.rss_kib(), east.rss_kib()) - baseline
        assert grown < 40 * 1024, f"router RSS grew by {grown} KiB with a stalled reader"
        received = 0
        sock.settimeout(0.5)
        try:
            while received < 4 * MIB:
                data = sock.recv(1 << 20)
                if not data:
                    break
                received += len(data)
        except TimeoutError:
            pass
        assert received > 0  # it still flows once the reader reads
    backend.close()


def test_edge_fails_over_to_its_other_uplink(net: RouterNet) -> None:
    """edge -> (hub0 | hub1) -> svc: killing the active uplink's hub moves the edge over."""
    hubs = [net.router(f"hub{i}", link_access=True) for i in range(2)]
    service = net.router("svc", link_access=True)
    for hub in hubs:
        net.link(service, hub)
    edge = net.router("edge", mode="edge")
    for hub in hubs:
        net.link(edge, hub)
    backend = Backend(EchoHandler)
    serve(service, backend)
    port = expose(edge)
    net.start()
    wait_for_port(port, timeout=20)
    assert echo_once(port, b"first") == b"first"
    active = next(h for h in hubs if f"uplink to {h.name} active" in edge.log)
    active.kill(signal.SIGKILL)
    echo_until(port, b"second", time.monotonic() + 5.0, "the edge did not fail over within 5 s")
    standby = next(h for h in hubs if h is not active)
    assert f"uplink to {standby.name} active" in edge.log
    backend.close()


def test_restarted_router_is_noticed_and_serves_again(net: RouterNet) -> None:
    west = net.router("west", link_access=True)
    east = net.router("east")
    net.link(east, west)
    backend = Backend(EchoHandler)
    serve(west, backend)
    port = expose(east)
    net.start()
    wait_for_port(port, timeout=20)
    assert echo_once(port, b"one") == b"one"
    west.kill(signal.SIGKILL)
    wait_for_port(port, open_=False, timeout=10)  # no consumer left: the listener closes
    west.start()
    wait_for_port(port, timeout=20)
    assert echo_once(port, b"two") == b"two"
    backend.close()


def test_frozen_middle_router_is_detected_by_hello_and_its_flows_end(net: RouterNet) -> None:
    """SIGSTOP keeps b's sockets open but silent: a notices within 3 s (HELLO), ends the
    flow that went through b, and new flows go through c."""
    b, backend, port = diamond(net)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as held:
        held.sendall(b"ping")
        assert held.recv(10) == b"ping"
        assert b.process is not None
        b.process.send_signal(signal.SIGSTOP)
        try:
            start = time.monotonic()
            held.settimeout(8)
            try:
                while held.recv(100):
                    pass
            except ConnectionResetError:
                pass
            assert time.monotonic() - start < 5, "the flow through the frozen router hung"
            # every router next to b must notice it too (d answers through b until then)
            echo_until(port, b"via c", start + 6, "no new flow succeeded after the freeze")
        finally:
            b.process.send_signal(signal.SIGCONT)
    backend.close()
