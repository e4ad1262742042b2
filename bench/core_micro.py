"""The router core alone, in one process: two cores (or a chain of three, whose middle one
forwards) joined by the tests' in-memory network (``tests/router/corenet.py``: real proton,
real TLS, no sockets), timed per new flow and per request/response, in all and for each
router. It shows what a change costs in the core itself, in a few seconds and with little
noise, next to the end-to-end figures of ``bench/versus.py``.

    python bench/core_micro.py [--routers 2|3] [--flows 2000] [--round-trips 5000] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import itertools
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.router.corenet import HOST, CoreNet, Router

MESSAGE = b"x" * 64


# what the in-memory network calls on a core: the time spent in them is the core's
ENTRY_POINTS = (
    "amqp_data", "amqp_output", "tcp_accepted", "tcp_connected",
    "tcp_data", "tcp_eof", "tcp_sent", "tcp_closed", "take_commands", "handle_timer",
)  # fmt: skip


def chain(net: CoreNet, count: int) -> list[Router]:
    """``count`` routers in a row, each dialling the one before it; a tcpListener on the
    first, its tcpConnector on the last."""
    names = ("west", "mid", "east") if count == 3 else ("west", "east")
    # each but the last takes the link of the next one
    routers = [net.router(name, link_access=name != "east") for name in names]
    for left, right in itertools.pairwise(routers):
        net.link(right, left)
    west, east = routers[0], routers[-1]
    west.add("tcpListener", name="web", host=HOST, port=8080, address="web")
    east.add("tcpConnector", name="web", host="10.0.0.5", port=80, address="web")
    net.start()
    net.run_until(lambda: bool(west.routing.routers_with_address("web")), within=5)
    return routers


def time_cores(routers: list[Router]) -> collections.defaultdict[str, float]:
    """Seconds spent in each router's core from now on, by router name."""
    spent: collections.defaultdict[str, float] = collections.defaultdict(float)

    def timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return call

    for router in routers:
        for entry in ENTRY_POINTS:
            setattr(router.core, entry, timed(router.name, getattr(router.core, entry)))
    return spent


def each(spent: dict[str, float], count: int) -> str:
    return ", ".join(f"{name} {seconds / count * 1e6:.0f}" for name, seconds in spent.items())


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
    parser.add_argument("--routers", type=int, choices=(2, 3), default=2)
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--round-trips", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="core-micro-") as folder:
        net = CoreNet(Path(folder))
        routers = chain(net, args.routers)
        west, east = routers[0], routers[-1]
        new_flows(net, west, east, 20)  # what a first flow makes once (links, pools)
        spent = time_cores(routers)
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        per_flow = new_flows(net, west, east, args.flows)
        in_flows = each(spent, args.flows)
        spent.clear()
        per_rt = round_trips(net, west, east, args.round_trips)
        if profiler:
            profiler.disable()
    print(f"new flow (connect, 64 B each way, close), {args.routers} routers: "
          f"{per_flow * 1e6:.0f} us (in each core, us: {in_flows})")  # fmt: skip
    print(f"request/response of 64 B on an open flow, {args.routers} routers: "
          f"{per_rt * 1e6:.0f} us (in each core, us: {each(spent, args.round_trips)})")  # fmt: skip
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
