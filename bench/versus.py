"""Our router against skupper-router, in the same positions, on this machine, in one run.

Each position is built twice at once, with our routers and with skupper-router's (the
reference in ``../shared/reference/skupper-router/``, or ``SKROUTERD=`` a build of your
own), with mutual TLS on every inter-router link, and each load runs through one and then
the other before the next load (the order alternates from round to round): the two
figures of a ratio are taken seconds apart, so a machine getting busier hurts both alike. Every
figure is printed as ours, skupper-router's, the ratio, and direct (no router) for scale;
a ratio is the median of the rounds' ratios, their range after it in brackets.

    python bench/versus.py            # 3 rounds, 5 s per load
    python bench/versus.py --quick    # 1 round, 2 s per load
    python bench/versus.py --observe  # with a flow collector reading every router's records

Loads (bench/loadgen.c, built with the system's cc, so the client is never the bottleneck):
request/response of 64 B on 1 and on 50 connections, new connections (connect, 64 B echo,
close) from 8 and from 32 clients, HTTP/1.1 keep-alive GETs from 50 clients (through a
listener that observes HTTP, as by default, and through one with observer none: the cost
of observing), iperf3 for one stream, redis-benchmark's GET and SET with 50 clients
against a real redis-server (when installed), and 1,000 flows held open at once. Results
go to ``bench/results/<time>-<commit>.json`` as well.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' router network, when run as a script
sys.path.insert(0, str(ROOT / "bench"))  # loads.py, beside this file

from loads import (  # noqa: E402  (bench/loads.py)
    FLOWS,
    UNOBSERVED,
    Settings,
    Target,
    background,
    build_loadgen,
    measure,
    measure_side_by_side,
)
from loopback import log  # noqa: E402

from skupper_podman.console.collector import Collector  # noqa: E402
from tests import redis_peers, reference  # noqa: E402
from tests.interop.chains import positions  # noqa: E402
from tests.ports import free_port  # noqa: E402
from tests.routernet import RouterNet, wait_listening  # noqa: E402

POSITIONS = {
    "2 routers": "{k}-{k}",
    "3 interior routers": "{k}-{k}-{k}",
    "edge - hub - edge": "{k}:edge-{k}-{k}:edge",
}
KINDS = ("ours", "sk")


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    higher_is_better: bool


FIGURES = [
    Figure("rr1", "request/response 64 B, 1 client (ops/s)", True),
    Figure("rr1_p99", "  p99 latency (us)", False),
    Figure("rr50", "request/response 64 B, 50 clients (ops/s)", True),
    Figure("rr50_p50", "  p50 latency (us)", False),
    Figure("rr50_p99", "  p99 latency (us)", False),
    Figure("rr50_cpu", "  router CPU per request, all routers (us)", False),
    Figure("connect", "new connections/s, 8 clients", True),
    Figure("connect32", "  the same, 32 clients", True),
    Figure("connect32_p99", "    p99 time of one (connect, echo, close; us)", False),
    Figure("http50", "HTTP/1.1 requests, 50 clients, observer auto (req/s)", True),
    Figure("http50_none", "  the same, observer none (req/s)", True),
    Figure("http50_cpu", "  router CPU per request, all routers, observer auto (us)", False),
    Figure("http50_none_cpu", "  the same, observer none (us)", False),
    Figure("redis_get", "redis-benchmark GET, 50 clients (req/s)", True),
    Figure("redis_set", "redis-benchmark SET, 50 clients (req/s)", True),
    Figure("redis_cpu", "  router CPU per request, all routers (us)", False),
    Figure("gbits", "throughput, one stream (Gbit/s)", True),
    Figure("cpu_per_gb", "  router CPU seconds per GB", False),
    Figure("rss_idle", "RSS idle, largest router (MB)", False),
    Figure("rss_flows", f"RSS with {FLOWS:,} flows, largest router (MB)", False),
]


# --- positions ---------------------------------------------------------------------------------


def build(net: RouterNet, spec: str, backends: dict[str, int]) -> dict[str, int]:
    """The routers of ``spec`` (as the interop tests write chains), linked and started: a
    tcpListener per backend on the first router, its tcpConnector on the last."""
    routers = [
        net.router(
            f"r{i}-{kind}", kind=kind, mode=mode, link_access=mode == "interior", management=True
        )
        for i, (kind, mode) in enumerate(positions(spec))
    ]
    for left, right in itertools.pairwise(routers):
        if left.mode == "edge":
            net.link(left, right)  # an edge dials its hub
        else:
            net.link(right, left)
    ports = {}
    for key, backend in backends.items():
        routers[-1].add(
            "tcpConnector", name=f"{key}-c", host="127.0.0.1", port=backend, address=key
        )
        ports[key] = free_port()
        observer = {"observer": "none"} if key == UNOBSERVED else {}  # auto otherwise
        routers[0].add(
            "tcpListener",
            name=f"{key}-l",
            host="127.0.0.1",
            port=ports[key],
            address=key,
            **observer,
        )
    net.start()
    net.wait_routes()
    for port in ports.values():
        wait_listening(port, timeout=30)
    return ports


def run_position(
    spec: str, order: tuple[str, ...], backends: dict[str, int], binary: Path, settings: Settings
) -> dict[str, dict[str, float]]:
    """The position built with each kind of router at once (in networks of their own), and
    measured load by load through each in ``order``."""
    with contextlib.ExitStack() as stack:
        targets = {}
        for kind in order:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-versus-")))
            net = RouterNet(folder)
            stack.callback(net.stop)
            ports = build(net, spec.format(k=kind), backends)
            routers = list(net.routers.values())
            pids = [r.process.pid for r in routers if r.process is not None]
            management = routers[0].management_port
            stack.enter_context(observed(management, len(routers), settings.observe))
            targets[kind] = Target(ports, pids)
        time.sleep(1)  # let the routers settle before reading their memory
        return measure_side_by_side(targets, binary, settings)


@contextlib.contextmanager
def observed(port: int, routers: int, observe: bool) -> Iterator[None]:
    """With ``observe``: a collector reads every router's flow records meanwhile."""
    if not observe:
        yield
        return
    collector = Collector(f"amqp://127.0.0.1:{port}").start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sources = collector.snapshot().sources.values()
        if len(sources) == routers and all(source.heartbeats for source in sources):
            break
        time.sleep(0.2)
    else:
        log(f"the collector heard only {len(collector.snapshot().sources)} of {routers} routers")
    try:
        yield
    finally:
        records = len(collector.snapshot().records)
        collector.stop()
        log(f"collector: {records} records")


# --- the run -----------------------------------------------------------------------------------


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours and theirs else None


def report(results: dict[str, dict[str, list[dict[str, float]]]], direct: dict[str, float]) -> str:
    lines = []
    for position, by_kind in results.items():
        lines += ["", f"## {position}", ""]
        lines.append("| figure | ours | skupper-router | ours / sk | better | direct |")
        lines.append("|---|---|---|---|---|---|")
        for figure in FIGURES:
            ours = [r.get(figure.key) for r in by_kind["ours"]]
            theirs = [r.get(figure.key) for r in by_kind["sk"]]
            pairs = [ratio(o, t) for o, t in zip(ours, theirs, strict=True)]
            known = [p for p in pairs if p is not None]
            if not known:
                continue
            better = "higher" if figure.higher_is_better else "lower"
            lines.append(
                f"| {figure.label} | {_median(ours)} | {_median(theirs)} "
                f"| {_ratio_cell(known)} | {better} | {_cell(direct.get(figure.key))} |"
            )
    return "\n".join(lines)


def _ratio_cell(ratios: list[float]) -> str:
    """The median of the rounds' ratios, and their range when there are several (on these
    machines one round's ratio can be far from the others')."""
    median = f"{statistics.median(ratios):.2f}x"
    if len(ratios) < 2:
        return median
    return f"{median} ({min(ratios):.2f}-{max(ratios):.2f})"


def _median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return _cell(statistics.median(known)) if known else "-"


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 2 s per load")
    parser.add_argument("--rounds", type=int, help="alternated rounds (default 3)")
    parser.add_argument("--only", help="positions whose name contains this text")
    parser.add_argument(
        "--observe", action="store_true", help="a flow collector reads every router's records"
    )
    args = parser.parse_args(argv)
    reason = reference.missing_reason()
    if reason:
        print(f"bench: {reason}", file=sys.stderr)
        return 1
    for tool in ("iperf3",):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 1
    settings = Settings(
        rounds=args.rounds or (1 if args.quick else 3),
        seconds=2 if args.quick else 5,
        redis_requests=20000 if args.quick else 100000,
        observe=args.observe,
    )
    chosen = {n: s for n, s in POSITIONS.items() if not args.only or args.only in n}
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        binary = build_loadgen(folder)
        backends = {"echo": free_port(), "iperf": free_port(), "http": free_port()}
        backends[UNOBSERVED] = backends["http"]
        stack.enter_context(background([str(binary), "echo", str(backends["echo"])]))
        stack.enter_context(background([str(binary), "httpd", str(backends["http"])]))
        stack.enter_context(background(["iperf3", "-s", "-p", str(backends["iperf"])]))
        if not redis_peers.missing_tools():
            backends["redis"] = stack.enter_context(redis_peers.RedisServer(folder)).port
        else:
            log(f"{', '.join(redis_peers.missing_tools())} missing: no redis figures")
        for port in backends.values():
            wait_listening(port, timeout=10)
        log("direct (no router)")
        direct = measure(Target(backends, []), binary, settings)
        results: dict[str, dict[str, list[dict[str, float]]]] = {
            name: {kind: [] for kind in KINDS} for name in chosen
        }
        for round_index in range(settings.rounds):
            order = KINDS if round_index % 2 == 0 else KINDS[::-1]
            for name, spec in chosen.items():
                log(f"round {round_index + 1}: {name}, {' then '.join(order)} for each load")
                figures = run_position(spec, order, backends, binary, settings)
                for kind in order:
                    results[name][kind].append(figures[kind])
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    header = (
        f"# skupper-podman {commit()} vs skupper-router, {stamp}, {settings.rounds} round(s), "
        f"{settings.seconds} s per load, {os.cpu_count()} cores, "
        f"flow collector {'on' if settings.observe else 'off'}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    text = header + "\n" + report(results, direct)
    print(text)
    out = ROOT / "bench" / "results" / f"{stamp}-{commit()}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"settings": vars(args), "direct": direct, "results": results}))
    log(f"results written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
