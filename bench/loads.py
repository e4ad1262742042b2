"""The loads bench/versus.py runs through a position (or through none: direct), each
giving figures by name: memory idle, request/response on 1 and 50 connections, HTTP
observed and not, new connections, redis-benchmark, one iperf3 stream, memory with 1,000
flows. The clients are bench/loadgen.c's (built here with the system's cc)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from loopback import log
from processes import cpu_seconds, rss_mb, start_process, stop_process

from tests import redis_peers

UNOBSERVED = "http-unobserved"  # the HTTP backend again, behind a listener with observer none
FLOWS = 1000


@dataclass(frozen=True)
class Settings:
    rounds: int
    seconds: int
    redis_requests: int
    observe: bool = False  # a flow collector on the first router hears every router


def build_loadgen(folder: Path) -> Path:
    binary = folder / "loadgen"
    source = Path(__file__).with_name("loadgen.c")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("bench: no C compiler (cc) to build bench/loadgen.c")
    subprocess.run([cc, "-O2", "-pthread", "-o", str(binary), str(source)], check=True)
    return binary


@contextlib.contextmanager
def background(command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    process = start_process(command)
    try:
        yield process
    finally:
        stop_process(process)


def loadgen(binary: Path, *args: object) -> dict[str, float]:
    out = subprocess.run(
        [str(binary), *map(str, args)], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    if result["errors"]:
        log(f"  loadgen {' '.join(map(str, args))}: {int(result['errors'])} errors")
    return result


def iperf(port: int, seconds: int) -> float:
    out = subprocess.run(
        ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out)["end"]["sum_received"]["bits_per_second"]) / 1e9


def redis_benchmark(port: int, requests: int) -> dict[str, float]:
    rates = redis_peers.benchmark(port, "-c", "50", "-n", str(requests), "-t", "get,set")
    return {f"redis_{test.lower()}": rate for test, rate in rates.items()}


def routers_cpu(pids: list[int]) -> float:
    """CPU seconds the routers have used so far, all their threads, all of them."""
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


@contextlib.contextmanager
def hold_flows(port: int, count: int) -> Iterator[None]:
    """``count`` connections open at once, each having echoed 64 B."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=20)
            sock.sendall(b"f" * 64)
            sockets.append(sock)
        for sock in sockets:
            got = b""
            while len(got) < 64:
                got += sock.recv(64 - len(got))
        yield
    finally:
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class Target:
    """What a load runs through: a position's routers (their pids), or none (direct)."""

    ports: dict[str, int]
    pids: list[int]


Load = Callable[[Target, Path, Settings], dict[str, float]]


def idle_memory(target: Target, _binary: Path, _settings: Settings) -> dict[str, float]:
    if not target.pids:
        return {}
    return {"rss_idle": max(rss_mb(pid) or 0.0 for pid in target.pids)}


def request_response(target: Target, binary: Path, settings: Settings) -> dict[str, float]:
    ports, pids, seconds = target.ports, target.pids, settings.seconds
    figures: dict[str, float] = {}
    rr1 = loadgen(binary, "rr", ports["echo"], 1, seconds, 64)
    figures["rr1"], figures["rr1_p99"] = rr1["ops"] / rr1["seconds"], rr1["p99_us"]
    before = routers_cpu(pids)
    rr50 = loadgen(binary, "rr", ports["echo"], 50, seconds, 64)
    figures["rr50"] = rr50["ops"] / rr50["seconds"]
    if pids:
        figures["rr50_cpu"] = (routers_cpu(pids) - before) * 1e6 / rr50["ops"]
    figures["rr50_p50"], figures["rr50_p99"] = rr50["p50_us"], rr50["p99_us"]
    return figures


def http(target: Target, binary: Path, settings: Settings) -> dict[str, float]:
    # The first HTTP load after the others ran slower, with no router too (direct: 109k
    # then 127k requests a second), and that was read as the cost of observing: a second
    # of HTTP load first, not counted, then each of the pair in two halves, in the order
    # observed, unobserved, unobserved, observed (what drifts meanwhile cancels out).
    ports, pids = target.ports, target.pids
    loadgen(binary, "http", ports["http"], 50, 1)
    done = {"http50": [0.0, 0.0, 0.0], "http50_none": [0.0, 0.0, 0.0]}  # requests, s, CPU s
    half = max(1, settings.seconds // 2)
    pair = (("http", "http50"), (UNOBSERVED, "http50_none"))
    for key, figure in (*pair, *pair[::-1]):
        before = routers_cpu(pids)
        result = loadgen(binary, "http", ports[key], 50, half)
        done[figure][0] += result["ops"]
        done[figure][1] += result["seconds"]
        done[figure][2] += routers_cpu(pids) - before
    figures: dict[str, float] = {}
    for figure, (requests, took, used) in done.items():
        figures[figure] = requests / took
        if pids:
            figures[f"{figure}_cpu"] = used * 1e6 / requests
    return figures


def connects(target: Target, binary: Path, settings: Settings) -> dict[str, float]:
    # After the HTTP pair: what ~10,000 short flows leave (their records and sockets, let
    # go over the next seconds) was paid by the HTTP load run next, the observed one, and
    # read as the cost of observing (5-10% in chains for both routers, 0% in 2 routers).
    # From 8 clients, and from 32, where a router's batches grow: skupper-router's cost
    # per flow falls more with them than ours (edge-hub-edge, one run: 1.01x at 8, 0.81x
    # at 32).
    port, seconds = target.ports["echo"], settings.seconds
    eight = loadgen(binary, "connect", port, 8, seconds)
    many = loadgen(binary, "connect", port, 32, seconds)
    return {
        "connect": eight["ops"] / eight["seconds"],
        "connect32": many["ops"] / many["seconds"],
        "connect32_p99": many["p99_us"],  # a stalled connection shows here first
    }


def redis(target: Target, _binary: Path, settings: Settings) -> dict[str, float]:
    if "redis" not in target.ports:
        return {}
    before = routers_cpu(target.pids)
    figures = redis_benchmark(target.ports["redis"], settings.redis_requests)
    if target.pids:  # GET and SET: twice the requests
        used = routers_cpu(target.pids) - before
        figures["redis_cpu"] = used * 1e6 / (2 * settings.redis_requests)
    return figures


def stream(target: Target, _binary: Path, settings: Settings) -> dict[str, float]:
    before = routers_cpu(target.pids)
    figures = {"gbits": iperf(target.ports["iperf"], settings.seconds)}
    if target.pids:
        used = routers_cpu(target.pids) - before
        figures["cpu_per_gb"] = used / (figures["gbits"] * settings.seconds / 8)
    return figures


def flows_memory(target: Target, _binary: Path, _settings: Settings) -> dict[str, float]:
    if not target.pids:
        return {}
    with hold_flows(target.ports["echo"], FLOWS):
        return {"rss_flows": max(rss_mb(pid) or 0.0 for pid in target.pids)}


LOADS: tuple[Load, ...] = (
    idle_memory, request_response, http, connects, redis, stream, flows_memory
)  # fmt: skip


def measure(target: Target, binary: Path, settings: Settings) -> dict[str, float]:
    figures: dict[str, float] = {}
    for load in LOADS:
        figures |= load(target, binary, settings)
    return figures


def measure_side_by_side(
    targets: dict[str, Target], binary: Path, settings: Settings
) -> dict[str, dict[str, float]]:
    """Each load through every target in turn (in the order given), before the next load:
    the two figures of a ratio are taken seconds apart, not minutes, so what the machine
    does meanwhile weighs on both alike."""
    figures: dict[str, dict[str, float]] = {kind: {} for kind in targets}
    for load in LOADS:
        for kind, target in targets.items():
            figures[kind] |= load(target, binary, settings)
    return figures
