"""What bench.py measures on each path: iperf3 throughput, 64-byte ping-pong, connect and
first echo, new connections per second, and 1,000 flows held open."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from loopback import LOOPBACK, BenchError, connect, describe, echo_once, iperf_server, log
from paths import DIRECT, HOPS, OURS, STUNNEL, Figures, Route, largest_rss
from processes import cpu_seconds, open_files_limit, rss_mb

LOAD_TIMEOUT = 120.0  # seconds, for one latency measurement as a whole
WARMUP = 20  # round trips or connections not counted
CLIENTS = 16  # threads opening connections at once in the concurrent rate run
FLOWS = 1000  # concurrent flows held open for the RSS figure
GIVE_UP_AFTER = 20  # failures in a row that end the opening of flows


@dataclass(frozen=True)
class Settings:
    duration: int  # iperf3 seconds
    round_trips: int  # ping-pong round trips on one connection
    connects: int  # sequential new connections
    rate_connections: int  # new connections in one rate run, at most ...
    rate_seconds: float  # ... and for at most this long
    cli: Path


def measure_throughput(
    route: Route, backend_port: int, settings: Settings, notes: list[str]
) -> Figures:
    """iperf3 single stream, receiver bits per second; the CPU time each process of the
    path spent meanwhile goes to the notes (on 2 cores, three routers compete for them)."""
    command = ["iperf3", "-c", LOOPBACK, "-p", str(route.iperf_port), "-t", str(settings.duration)]
    command += ["-J", "--connect-timeout", "5000"]
    with iperf_server(backend_port):
        before = {name: cpu_seconds(pid) for name, pid in route.processes().items()}
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=settings.duration + 30
            )
        except subprocess.TimeoutExpired:
            raise BenchError("iperf3 client timed out") from None
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise BenchError(f"iperf3 printed no JSON: {done.stderr.strip()}") from None
    if "error" in report:
        raise BenchError(f"iperf3: {report['error']}")
    received = report["end"]["sum_received"]
    if before:
        notes.append(cpu_note(route, before, settings.duration, received["bytes"] / 1e9))
    return {"gbps": received["bits_per_second"] / 1e9}


def cpu_note(route: Route, before: dict[str, float | None], seconds: int, gigabytes: float) -> str:
    """CPU seconds of each process of the path, and what they cost per GB moved: with the
    cores all busy, cores / (CPU seconds per GB) bounds a path's throughput."""
    used: dict[str, float | None] = {}
    for name, pid in route.processes().items():
        start, end = before.get(name), cpu_seconds(pid)
        used[name] = None if start is None or end is None else end - start
    shown = ", ".join(f"{n} {'?' if u is None else f'{u:.1f}'}" for n, u in used.items())
    note = f"CPU seconds used during {seconds} s of iperf3 via {route.name}: {shown}"
    known = [u for u in used.values() if u is not None]
    if known and gigabytes > 0:
        per_gb = sum(known) / gigabytes
        cores = os.cpu_count() or 1
        note += (
            f"; {per_gb:.2f} CPU s per GB in all, so at most {cores / per_gb * 8:.1f} Gbit/s"
            f" on {cores} cores from its own CPU cost alone"
        )
    return note


def measure_rtt(route: Route, _backend_port: int, settings: Settings, _notes: list[str]) -> Figures:
    """64-byte ping-pong on one connection: p50 and p99 in microseconds."""
    samples: list[int] = []
    deadline = time.monotonic() + LOAD_TIMEOUT
    with connect(route.echo_port) as sock:
        for _ in range(WARMUP):
            echo_once(sock)
        for _ in range(settings.round_trips):
            start = time.perf_counter_ns()
            echo_once(sock)
            samples.append(time.perf_counter_ns() - start)
            if time.monotonic() > deadline:
                raise BenchError(f"ping-pong took more than {LOAD_TIMEOUT:.0f} s")
    return {"rtt_p50": percentile(samples, 50) / 1e3, "rtt_p99": percentile(samples, 99) / 1e3}


def measure_connect(
    route: Route, _backend_port: int, settings: Settings, _notes: list[str]
) -> Figures:
    """New connection + 64 bytes + their echo, one after another: p50 in milliseconds."""
    samples: list[int] = []
    deadline = time.monotonic() + LOAD_TIMEOUT
    for attempt in range(WARMUP + settings.connects):
        start = time.perf_counter_ns()
        with connect(route.echo_port) as sock:
            echo_once(sock)
            elapsed = time.perf_counter_ns() - start
        if attempt >= WARMUP:
            samples.append(elapsed)
        if time.monotonic() > deadline:
            raise BenchError(f"new connections took more than {LOAD_TIMEOUT:.0f} s")
    return {"connect_p50": percentile(samples, 50) / 1e6}


def connection_rate(port: int, settings: Settings, clients: int) -> tuple[float, Counter[str]]:
    """New connections per second from `clients` threads, each connection opened, echoing
    64 bytes once (so it surely reached the backend) and closed; at most
    `settings.rate_connections` of them and for at most `settings.rate_seconds`."""
    lock = threading.Lock()
    claimed = 0
    deadline = time.monotonic() + settings.rate_seconds

    def claim() -> bool:
        nonlocal claimed
        with lock:
            if claimed >= settings.rate_connections or time.monotonic() > deadline:
                return False
            claimed += 1
            return True

    def client() -> tuple[int, Counter[str]]:
        done, failures = 0, Counter[str]()
        while claim():
            try:
                with connect(port) as sock:
                    echo_once(sock)
                done += 1
            except (OSError, BenchError) as error:
                failures[describe(error)] += 1
        return done, failures

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(lambda _: client(), range(clients)))
    elapsed = time.perf_counter() - start
    failures = sum((failed for _, failed in outcomes), Counter[str]())
    return sum(done for done, _ in outcomes) / elapsed, failures


def measure_rates(
    route: Route, _backend_port: int, settings: Settings, notes: list[str]
) -> Figures:
    """New connections per second, one client at a time and CLIENTS at once."""
    figures: Figures = {}
    for key, clients in (("rate_one", 1), ("rate_many", CLIENTS)):
        figures[key], failures = connection_rate(route.echo_port, settings, clients)
        if failures:
            notes.append(
                f"new connections via {route.name}, {clients} client(s): "
                f"{failures.total()} failed: {summary(failures)}"
            )
    return figures


def measure_flows(
    route: Route, _backend_port: int, settings: Settings, notes: list[str]
) -> Figures:
    """FLOWS connections held open at once, each having echoed 64 bytes: the RSS of the
    path's processes then; every flow echoes once more before all are closed."""
    flows: list[socket.socket] = []
    failures: Counter[str] = Counter()
    in_a_row = 0
    before = {name: rss_mb(pid) for name, pid in route.processes().items()}
    deadline = time.monotonic() + LOAD_TIMEOUT
    start = time.perf_counter()
    try:
        while len(flows) < FLOWS and in_a_row < GIVE_UP_AFTER and time.monotonic() < deadline:
            try:
                flows.append(open_flow(route.echo_port))
                in_a_row = 0
            except (OSError, BenchError) as error:
                failures[describe(error)] += 1
                in_a_row += 1
        opened = time.perf_counter() - start
        sizes = {name: rss_mb(pid) for name, pid in route.processes().items()}
        echoed_again = 0
        for sock in flows:
            if time.monotonic() > deadline:
                break
            try:
                echo_once(sock)
                echoed_again += 1
            except (OSError, BenchError) as error:
                failures[f"second echo: {describe(error)}"] += 1
    finally:
        for sock in flows:
            sock.close()
    notes.append(flows_note(route, len(flows), opened, echoed_again, (before, sizes), failures))
    known = [size for size in sizes.values() if size is not None]
    figures: Figures = {"flows_open": len(flows)}
    if known and len(known) == len(sizes):
        figures["rss_flows"] = max(known)
    return figures


def open_flow(port: int) -> socket.socket:
    """A new connection that has echoed 64 bytes once; closed again if that fails."""
    sock = connect(port)
    try:
        echo_once(sock)
    except BaseException:
        sock.close()
        raise
    return sock


def flows_note(
    route: Route,
    opened: int,
    seconds: float,
    echoed_again: int,
    sizes: tuple[dict[str, float | None], dict[str, float | None]],
    failures: Counter[str],
) -> str:
    """What happened to the flows; RSS is given just before they opened -> while open (the
    figure before includes what earlier runs left: Python keeps memory it has freed)."""
    before, during = sizes
    rss = ", ".join(
        f"{name} {megabytes(before.get(name))} -> {megabytes(mb)}" for name, mb in during.items()
    )
    limits = ", ".join(f"{name} {open_files_limit(pid)}" for name, pid in route.processes().items())
    lines = [
        f"{FLOWS} flows via {route.name}: {opened} open and echoed in {seconds:.1f} s, "
        f"{echoed_again} echoed again while all were open; RSS before -> with them open: {rss}",
        f"  open-files limit: {limits}",
    ]
    if failures:
        lines.append(f"  FAILED {failures.total()} times: {summary(failures)}")
        if opened < FLOWS:
            lines.append(
                "  (a process out of file descriptors shows as failures here: "
                "see the open-files limit above)"
            )
    return "\n".join(lines)


def megabytes(size: float | None) -> str:
    return "gone" if size is None else f"{size:.1f} MB"


def summary(failures: Counter[str]) -> str:
    return "; ".join(f"{count} x {what}" for what, count in failures.most_common(3))


def percentile(samples: list[int], rank: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[rank - 1]


Measurement = Callable[[Route, int, Settings, list[str]], Figures]
EVERY_PATH = (DIRECT, STUNNEL, OURS, HOPS)
MAIN_PATHS = (DIRECT, STUNNEL, OURS)
MEASUREMENTS: tuple[tuple[str, Measurement, tuple[str, ...]], ...] = (
    ("iperf3 throughput", measure_throughput, EVERY_PATH),
    ("64 B ping-pong", measure_rtt, MAIN_PATHS),
    ("connect + first echo", measure_connect, MAIN_PATHS),
    ("new connections per second", measure_rates, MAIN_PATHS),
    (f"{FLOWS} concurrent flows", measure_flows, (STUNNEL, OURS)),
)


def measure_all(
    routes: list[Route], iperf_backend: int, settings: Settings, notes: list[str]
) -> dict[str, Figures]:
    """Each measurement over its paths in turn; a failure leaves a gap, not an abort."""
    results: dict[str, Figures] = {route.name: largest_rss(route) for route in routes}
    for title, measure, paths in MEASUREMENTS:
        for route in routes:
            if route.name not in paths:
                continue
            log(f"  {title} via {route.name}")
            try:
                results[route.name].update(measure(route, iperf_backend, settings, notes))
            except (BenchError, OSError) as error:
                log(f"  failed: {error}")
                notes.append(f"{title} via {route.name} FAILED: {error}")
    return results
