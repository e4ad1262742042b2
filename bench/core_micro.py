"""The router core alone, in one process: two cores joined by the tests' in-memory network
(``tests/router/corenet.py``: real proton, real TLS, no sockets), timed per new flow and
per request/response. It shows what a change costs in the core itself, in a few seconds
and with little noise, next to the end-to-end figures of ``bench/versus.py``.

    python bench/core_micro.py [--flows 2000] [--round-trips 5000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.router.corenet import HOST, CoreNet, Router

MESSAGE = b"x" * 64


def two_routers(net: CoreNet) -> tuple[Router, Router]:
    west = net.router("west", link_access=True)
    east = net.router("east")
    net.link(east, west)
    west.add("tcpListener", name="web", host=HOST, port=8080, address="web")
    east.add("tcpConnector", name="web", host="10.0.0.5", port=80, address="web")
    net.start()
    net.run_until(lambda: bool(west.routing.routers_with_address("web")), within=5)
    return west, east


def new_flows(net: CoreNet, west: Router, east: Router, count: int) -> float:
    """Seconds per flow: connect, 64 B each way, both sides close."""
    started = time.perf_counter()
    for _ in range(count):
        client = net.connect_client(west, "web")
        net.send(client, MESSAGE)
        backend = net.accept(east, net.dial(east).flow_id)
        net.send(backend, MESSAGE)
        net.eof(client)
        net.eof(backend)
        assert client.closed and bytes(client.received) == MESSAGE
    return (time.perf_counter() - started) / count


def round_trips(net: CoreNet, west: Router, east: Router, count: int) -> float:
    """Seconds per request/response of 64 B on one open flow."""
    client = net.connect_client(west, "web")
    net.send(client, MESSAGE)
    backend = net.accept(east, net.dial(east).flow_id)
    started = time.perf_counter()
    for _ in range(count):
        net.send(backend, MESSAGE)
        net.send(client, MESSAGE)
    took = (time.perf_counter() - started) / count
    assert len(client.received) == count * len(MESSAGE)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--round-trips", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="core-micro-") as folder:
        net = CoreNet(Path(folder))
        west, east = two_routers(net)
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        per_flow = new_flows(net, west, east, args.flows)
        per_rt = round_trips(net, west, east, args.round_trips)
        if profiler:
            profiler.disable()
    print(f"new flow (connect, 64 B each way, close), both routers: {per_flow * 1e6:.0f} us")
    print(f"request/response of 64 B on an open flow, both routers: {per_rt * 1e6:.0f} us")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
