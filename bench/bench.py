"""Side-by-side benchmark: skupper-podman sites vs an stunnel mutual-TLS pair.

One run sets up four paths to the same loopback backends and measures each of them:

- skupper-podman: listener on site east -> router -> mTLS link -> router -> connector on
  site west, set up through the CLI in a temporary SKUPPER_PODMAN_HOME (linux platform);
- skupper-podman 3 hops: listener on edge site e1 -> hub (interior) -> edge site e2's
  connector, in the same home; measured for throughput, against the two-site figure;
- stunnel (mTLS): client-side stunnel -> mutual TLS -> server-side stunnel, the reference;
- direct: no proxy, for context.

Measurements: iperf3 single-stream throughput, 64-byte ping-pong RTT (p50/p99) on one
connection, connect + first echo latency over sequential new connections, new connections
per second (one client, then several at once), and the RSS of the routers (and of the
stunnel processes) idle and with 1,000 concurrent flows open. The table gives ours/stunnel
for every metric, with the targets of issue 4. Everything runs on 127.0.0.1, every load is
bounded in count and time, and everything started here is stopped at the end, including on
failure and Ctrl-C.

Usage: python bench/bench.py [--quick] [--duration SECONDS]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import skupper_podman
from skupper_podman.certs import (
    issue_client_cert,
    issue_server_cert,
    new_ca,
    write_credential,
)

LOOPBACK = "127.0.0.1"
PAYLOAD = os.urandom(64)
IO_TIMEOUT = 10.0  # seconds, for any single socket operation
READY_TIMEOUT = 30.0  # seconds, for a path to start carrying traffic
LOAD_TIMEOUT = 120.0  # seconds, for one latency measurement as a whole
CLI_TIMEOUT = 60.0  # seconds, for one skupper-podman command
WARMUP = 20  # round trips or connections not counted
CLIENTS = 16  # threads opening connections at once in the concurrent rate run
FLOWS = 1000  # concurrent flows held open for the RSS figure
GIVE_UP_AFTER = 20  # failures in a row that end the opening of flows
OPEN_FILES_WANTED = 65536  # our soft RLIMIT_NOFILE when the hard limit is unlimited

OURS, STUNNEL, DIRECT = "skupper-podman", "stunnel (mTLS)", "direct"
HOPS = "skupper-podman 3 hops"
WEST, EAST = "bench-west", "bench-east"
HUB, EDGE1, EDGE2 = "bench-hub", "bench-e1", "bench-e2"


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    duration: int  # iperf3 seconds
    round_trips: int  # ping-pong round trips on one connection
    connects: int  # sequential new connections
    rate_connections: int  # new connections in one rate run, at most ...
    rate_seconds: float  # ... and for at most this long
    cli: Path


def no_processes() -> dict[str, int | None]:
    return {}


@dataclass(frozen=True)
class Route:
    """Where a client connects to reach the echo and the iperf3 backends over one path,
    and the processes that carry it (name -> pid), read when asked: pids can change."""

    name: str
    echo_port: int
    iperf_port: int
    processes: Callable[[], dict[str, int | None]] = field(default=no_processes)


@dataclass(frozen=True)
class Target:
    """A goal of issue 4: on ours/baseline (on_ratio) or on our own figure."""

    text: str
    bound: float
    at_least: bool
    on_ratio: bool = True

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool
    target: Target | None = None
    path: str = OURS  # the path whose figure is ours
    baseline: str = STUNNEL  # the path the ratio divides by


METRICS = (
    Metric("gbps", "throughput Gbit/s", True, Target(">= 0.56x", 0.56, at_least=True)),
    Metric(
        "gbps",
        "3 hops edge-hub-edge Gbit/s",
        True,
        Target(">= 0.8x of 2 sites", 0.8, at_least=True),
        path=HOPS,
        baseline=OURS,
    ),
    Metric("rtt_p50", "64 B RTT p50 us", False, Target("<= 2.5x", 2.5, at_least=False)),
    Metric("rtt_p99", "64 B RTT p99 us", False),
    Metric("connect_p50", "connect+echo p50 ms", False, Target("<= 0.6x", 0.6, at_least=False)),
    Metric("rate_one", "new conns/s, 1 client", True),
    Metric("rate_many", f"new conns/s, {CLIENTS} clients", True),
    Metric(
        "rss_idle",
        "RSS idle MB (largest process)",
        False,
        Target("< 60 MB", 60.0, at_least=False, on_ratio=False),
    ),
    Metric("rss_flows", f"RSS MB, {FLOWS} flows open (largest)", False),
)

Figures = dict[str, float]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- sockets ---------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now, all different (the kernel picks them)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [probe.getsockname()[1] for probe in probes]


def port_bound(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port; checked by bind, so no traffic is sent.
    SO_REUSEADDR lets the probe bind over TIME_WAIT leftovers but not over a listener."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
        return False


def connect(port: int) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=IO_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def echo_once(sock: socket.socket) -> None:
    """Send the 64-byte payload and read until all of it has come back."""
    sock.sendall(PAYLOAD)
    missing = len(PAYLOAD)
    while missing:
        chunk = sock.recv(missing)
        if not chunk:
            raise BenchError("the connection closed before the echo came back")
        missing -= len(chunk)


def describe(error: Exception) -> str:
    """A short, stable text for counting failures of one kind together."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def wait_until(ready: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)


def echo_works(port: int) -> bool:
    try:
        with connect(port) as sock:
            echo_once(sock)
    except (OSError, BenchError):
        return False
    return True


# --- processes -------------------------------------------------------------------------


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process we started (by its pid), SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)


def start_process(command: list[str], log_file: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a child in its own session: a Ctrl-C reaches only us, and we stop it by pid."""
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log_file.open("wb")) if log_file else subprocess.DEVNULL
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True
        )


def ensure_tools() -> None:
    """stunnel and iperf3 come from Debian; install them when missing and we may."""
    if shutil.which("iperf3") and stunnel_binary():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError("missing stunnel4 or iperf3: apt-get install -y stunnel4 iperf3")
    log("installing stunnel4 and iperf3 with apt-get")
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "stunnel4", "iperf3"],
    ):
        try:
            subprocess.run(command, check=True, timeout=600, stdout=subprocess.DEVNULL)
        except (subprocess.SubprocessError, OSError) as error:
            raise BenchError(f"{' '.join(command)} failed: {error}") from None


def stunnel_binary() -> str | None:
    return shutil.which("stunnel4") or shutil.which("stunnel")


def first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    # stunnel prints a note about inetd mode before its version.
    versions = [line for line in lines if line[:1].isalpha() and "inetd" not in line]
    return versions[0].strip() if versions else "?"


# --- backends --------------------------------------------------------------------------


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while chunk := sock.recv(65536):
            sock.sendall(chunk)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver listens with a backlog of 5: with CLIENTS connecting at once, SYNs were
    # dropped and retried a second later, and every path measured ~250 connections/s.
    request_queue_size = 1024

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a peer resetting its connection is not worth a traceback here


def _serve(server: _EchoServer) -> None:
    # The forked child must not run our handlers: the parent stops it with SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server.serve_forever()


@contextlib.contextmanager
def echo_server() -> Iterator[int]:
    """A threaded echo server in a child process, so it does not share our GIL."""
    server = _EchoServer((LOOPBACK, 0), _EchoHandler)
    port: int = server.server_address[1]
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(server,), daemon=True)
    child.start()
    server.server_close()  # the child has its own copy of the listening socket
    try:
        yield port
    finally:
        child.terminate()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join(5)


@contextlib.contextmanager
def iperf_server(port: int) -> Iterator[None]:
    """A one-off iperf3 server (-1): it serves one test and exits."""
    process = start_process(["iperf3", "-s", "-1", "-B", LOOPBACK, "-p", str(port)])
    try:
        wait_until(lambda: port_bound(port) or process.poll() is not None, "iperf3 server")
        if process.poll() is not None:
            raise BenchError(f"iperf3 -s exited with {process.returncode}")
        yield
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        stop_process(process)


# --- the stunnel reference -------------------------------------------------------------


def write_certificates(folder: Path) -> tuple[Path, Path]:
    """A CA, a server and a client certificate; returns the server and client folders."""
    ca = new_ca("bench-ca")
    server, client = folder / "server", folder / "client"
    write_credential(server, issue_server_cert(ca, "bench-server", [LOOPBACK, "localhost"]).files())
    write_credential(client, issue_client_cert(ca, "bench-client").files())
    return server, client


def stunnel_config(
    folder: Path, role: str, credential: Path, services: dict[str, tuple[int, int]]
) -> Path:
    """Config for one side; services maps a name to (accept port, connect port)."""
    lines = [
        "foreground = yes",
        f"pid = {folder / role}.pid",
        f"output = {folder / role}.log",
        # Logging each connection (notice) added ~7 ms to every new connection here.
        "debug = err",
        "socket = l:TCP_NODELAY=1",
        "socket = r:TCP_NODELAY=1",
    ]
    for name, (accept, connect_to) in services.items():
        lines += [f"[{name}]", *(["client = yes"] if role == "client" else [])]
        lines += [
            f"accept = {LOOPBACK}:{accept}",
            f"connect = {LOOPBACK}:{connect_to}",
            f"cert = {credential / 'tls.crt'}",
            f"key = {credential / 'tls.key'}",
            f"CAfile = {credential / 'ca.crt'}",
            "verify = 2",
        ]
    path = folder / f"{role}.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def stunnel_pair(folder: Path, echo_port: int, iperf_port: int) -> Iterator[Route]:
    """client stunnel -> mutual TLS -> server stunnel -> backends."""
    folder.mkdir(mode=0o700)
    server_creds, client_creds = write_certificates(folder)
    backends = {"echo": echo_port, "iperf": iperf_port}
    ports = iter(free_ports(2 * len(backends)))
    tls = {name: next(ports) for name in backends}  # server stunnel accepts TLS here
    front = {name: next(ports) for name in backends}  # client stunnel accepts plain TCP here
    configs = (
        stunnel_config(folder, "server", server_creds, {n: (tls[n], backends[n]) for n in tls}),
        stunnel_config(folder, "client", client_creds, {n: (front[n], tls[n]) for n in tls}),
    )
    binary = stunnel_binary() or "stunnel"
    processes = [
        start_process([binary, str(config)], config.with_suffix(".out")) for config in configs
    ]
    pids = {
        f"stunnel {config.stem}": process.pid
        for config, process in zip(configs, processes, strict=True)
    }
    route = Route(STUNNEL, front["echo"], front["iperf"], processes=lambda: dict(pids))
    try:
        wait_until(lambda: echo_works(route.echo_port), "the stunnel pair")
        wait_until(lambda: port_bound(route.iperf_port), "the stunnel iperf3 service")
        yield route
    finally:
        for process in reversed(processes):
            stop_process(process)


# --- our paths: two sites, and edge-hub-edge, through the CLI --------------------------


@dataclass(frozen=True)
class Cli:
    """Runs skupper-podman with SKUPPER_PODMAN_HOME pointing at our temporary folder."""

    executable: Path
    home: Path

    def run(self, *arguments: str) -> str:
        environment = {**os.environ, "SKUPPER_PODMAN_HOME": str(self.home)}
        command = [str(self.executable), *arguments]
        try:
            done = subprocess.run(
                command, env=environment, capture_output=True, text=True, timeout=CLI_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"skupper-podman {' '.join(arguments)}: timed out") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
            raise BenchError(f"skupper-podman {' '.join(arguments)}: {detail}")
        return done.stdout

    def router_pid(self, namespace: str) -> int | None:
        pid_file = self.home / "namespaces" / namespace / "runtime" / "router.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def routers(self, *namespaces: str) -> Callable[[], dict[str, int | None]]:
        return lambda: {f"{ns} router": self.router_pid(ns) for ns in namespaces}


def link(cli: Cli, accepting: str, *dialling: str) -> None:
    """`link generate` on the accepting site, `link create` on each dialling one."""
    link_file = cli.home / f"link-{accepting}.yaml"
    link_file.write_text(cli.run("link", "generate", "-n", accepting, "--host", LOOPBACK))
    for namespace in dialling:
        cli.run("link", "create", str(link_file), "-n", namespace)


def expose(
    cli: Cli, route: Route, backends: dict[str, int], connecting: str, listening: str
) -> None:
    """Connectors to the backends on one site, listeners on the route's ports on another;
    the routing keys are prefixed with the route's listening namespace, so paths differ."""
    for name, backend, listen in (
        ("echo", backends["echo"], route.echo_port),
        ("iperf", backends["iperf"], route.iperf_port),
    ):
        key = f"{listening}-{name}"
        connector = ["connector", "create", key, str(backend), "--routing-key", key]
        cli.run(*connector, "--host", LOOPBACK, "-n", connecting)
        cli.run("listener", "create", key, str(listen), "--routing-key", key, "-n", listening)


def create_sites(cli: Cli, backends: dict[str, int]) -> Route:
    """east's listener -> west's connector, east linked to west."""
    cli.run("site", "init", "west", "-n", WEST, "--link-access", "--bind-host", LOOPBACK)
    cli.run("site", "init", "east", "-n", EAST)
    link(cli, WEST, EAST)
    echo, iperf = free_ports(2)
    route = Route(OURS, echo, iperf, processes=cli.routers(WEST, EAST))
    expose(cli, route, backends, connecting=WEST, listening=EAST)
    return route


def create_hops(cli: Cli, backends: dict[str, int]) -> Route:
    """e1's listener -> hub -> e2's connector: two edge sites linked to one interior hub."""
    cli.run("site", "init", "hub", "-n", HUB, "--link-access", "--bind-host", LOOPBACK)
    cli.run("site", "init", "e1", "-n", EDGE1, "--edge")
    cli.run("site", "init", "e2", "-n", EDGE2, "--edge")
    link(cli, HUB, EDGE1, EDGE2)
    echo, iperf = free_ports(2)
    route = Route(HOPS, echo, iperf, processes=cli.routers(EDGE1, HUB, EDGE2))
    expose(cli, route, backends, connecting=EDGE2, listening=EDGE1)
    return route


def delete_sites(cli: Cli, namespaces: tuple[str, ...]) -> None:
    """Delete the sites; if the CLI fails, stop a router still running from its pid file."""
    for namespace in namespaces:
        pid = cli.router_pid(namespace)
        try:
            cli.run("site", "delete", "-n", namespace)
        except BenchError as error:
            log(f"warning: {error}")
        if pid is not None and is_our_router(pid):
            log(f"warning: router {pid} of {namespace} still runs; sending SIGTERM")
            os.kill(pid, signal.SIGTERM)


def is_our_router(pid: int) -> bool:
    try:
        return b"skupper_podman.router" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@contextlib.contextmanager
def skupper_sites(
    cli: Cli,
    namespaces: tuple[str, ...],
    create: Callable[[Cli, dict[str, int]], Route],
    backends: dict[str, int],
) -> Iterator[Route]:
    """Sites made by `create` (deleted afterwards, in the order of `namespaces`)."""
    try:
        route = create(cli, backends)
        # A listener listens only once its connector's key has reached its router. The
        # iperf3 path is probed by bind alone: a probe connection would reach the backend
        # port late and could be taken for the control connection of a one-off iperf3 -s.
        wait_until(lambda: echo_works(route.echo_port), f"the {route.name} echo path")
        wait_until(lambda: port_bound(route.iperf_port), f"the {route.name} iperf3 path")
        yield route
    finally:
        # A second Ctrl-C must not cut the clean-up short (the CLI children inherit this).
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            delete_sites(cli, namespaces)
        finally:
            signal.signal(signal.SIGINT, previous)


# --- process memory and limits ---------------------------------------------------------


def status_kib(pid: int, name: str) -> int | None:
    """A kB field (VmRSS, VmHWM) of /proc/<pid>/status; None if the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return None


def rss_mb(pid: int | None) -> float | None:
    """Resident memory in MB (10^6 bytes, as the target is worded)."""
    kib = None if pid is None else status_kib(pid, "VmRSS")
    return None if kib is None else kib * 1024 / 1e6


def memory(pid: int | None) -> str:
    """VmRSS (and the peak, VmHWM) of a process, in MB."""
    if pid is None:
        return "no pid file"
    rss, peak = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
    if rss is None or peak is None:
        return f"pid {pid} not running"
    return f"{rss * 1024 / 1e6:.1f} MB (peak {peak * 1024 / 1e6:.1f} MB)"


def path_memory(route: Route) -> str:
    return ", ".join(f"{name} {memory(pid)}" for name, pid in route.processes().items())


def largest_rss(route: Route) -> Figures:
    """The RSS of the path's largest process, as the figure `rss_idle` (none if unknown)."""
    sizes = [rss_mb(pid) for pid in route.processes().values()]
    known = [size for size in sizes if size is not None]
    return {"rss_idle": max(known)} if known and len(known) == len(sizes) else {}


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def open_files_limit(pid: int | None) -> str:
    """The soft 'Max open files' of a process, from /proc/<pid>/limits."""
    try:
        limits = Path(f"/proc/{pid}/limits").read_text()
    except OSError:
        return "?"
    for line in limits.splitlines():
        if line.startswith("Max open files"):
            return line.split()[3]
    return "?"


def raise_open_files() -> str:
    """Lift our soft RLIMIT_NOFILE to the hard limit, so a thousand flows' sockets fit here;
    the routers and stunnel, started by us, inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as error:
            return f"{soft} (raising it to {wanted} failed: {error})"
        return f"{wanted} (raised from {soft})"
    return f"{soft} (hard limit {hard})"


# --- measurements ----------------------------------------------------------------------


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


# --- output ----------------------------------------------------------------------------


def header(settings: Settings, open_files: str) -> str:
    return "\n".join(
        [
            "skupper-podman benchmark (loopback, single stream)",
            f"machine: {os.cpu_count()} cpus (nproc {len(os.sched_getaffinity(0))}), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"load average {load_average()} (other work on the machine skews figures)",
            f"skupper-podman: {package_version()}",
            f"tools: {first_line(['iperf3', '--version'])}; "
            f"{first_line([stunnel_binary() or 'stunnel', '-version'])}",
            f"settings: iperf3 {settings.duration} s, {settings.round_trips} round trips, "
            f"{settings.connects} new connections; rate runs of at most "
            f"{settings.rate_connections} connections or {settings.rate_seconds:.0f} s; "
            f"{FLOWS} concurrent flows",
            f"open files (soft RLIMIT_NOFILE, inherited by the routers and stunnel): {open_files}",
        ]
    )


def package_version() -> str:
    """Where the skupper_podman we run comes from, and its git commit when it has one."""
    folder = Path(skupper_podman.__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return str(folder)
    commit = done.stdout.strip() if done.returncode == 0 else "not a git checkout"
    return f"{folder} ({commit[:70]})"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def cell(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:#.3g}" if value < 100 else f"{value:.0f}"


def row(metric: Metric, results: dict[str, Figures]) -> list[str]:
    """One table row. A metric compared with our own two sites (3 hops) has no stunnel or
    direct counterpart; its ratio column says what it divides by."""
    ours = results.get(metric.path, {}).get(metric.key)
    baseline = results.get(metric.baseline, {}).get(metric.key)
    ratio = ours / baseline if ours is not None and baseline else None
    against_stunnel = metric.baseline == STUNNEL
    ratio_text = "n/a" if ratio is None else f"{ratio:.2f}x"
    if ratio is not None and not against_stunnel:
        ratio_text += " of 2 sites"
    target = "-"
    if metric.target is not None:
        judged = ratio if metric.target.on_ratio else ours
        verdict = "" if judged is None else (": met" if metric.target.met(judged) else ": MISSED")
        target = metric.target.text + verdict
    other = results.get(STUNNEL, {}).get(metric.key) if against_stunnel else None
    direct = results.get(DIRECT, {}).get(metric.key) if against_stunnel else None
    better = "higher" if metric.higher_is_better else "lower"
    return [
        f"{metric.label} ({better}=better)",
        cell(ours),
        cell(other),
        ratio_text,
        target,
        cell(direct),
    ]


def table(results: dict[str, Figures]) -> str:
    columns = ["metric", OURS, STUNNEL, "ours/stunnel", "target", DIRECT]
    rows = [columns, *(row(metric, results) for metric in METRICS)]
    widths = [max(len(line[i]) for line in rows) for i in range(len(columns))]
    lines = [
        " | ".join(text.ljust(width) for text, width in zip(line, widths, strict=True))
        for line in rows
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    lines.append(
        "ours/stunnel: above 1 is better for throughput and rates, below 1 for latency and RSS."
    )
    lines.append(
        "RSS: of the largest process of each path (a router, or one of the two stunnels); "
        "MB = 10^6 bytes."
    )
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------


def parse_settings(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="iperf3 seconds (default 10)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 s iperf3, fewer round trips"
    )
    default_cli = Path(sys.executable).parent / "skupper-podman"
    parser.add_argument(
        "--cli", type=Path, default=default_cli, help="the skupper-podman executable"
    )
    args = parser.parse_args(argv)
    if args.duration < 1:
        parser.error("--duration must be at least 1")
    if args.quick:
        return Settings(
            duration=2,
            round_trips=1000,
            connects=100,
            rate_connections=300,
            rate_seconds=3.0,
            cli=args.cli,
        )
    return Settings(
        duration=args.duration,
        round_trips=5000,
        connects=300,
        rate_connections=2000,
        rate_seconds=10.0,
        cli=args.cli,
    )


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(settings: Settings) -> None:
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="skupper-bench-")))
        echo_port, (iperf_port,) = stack.enter_context(echo_server()), free_ports(1)
        backends = {"echo": echo_port, "iperf": iperf_port}
        log("starting the stunnel pair, the two sites and the three edge-hub-edge sites")
        routes = [
            Route(DIRECT, echo_port, iperf_port),
            stack.enter_context(stunnel_pair(work / "stunnel", echo_port, iperf_port)),
        ]
        cli = Cli(settings.cli, work / "home")
        cli.home.mkdir(mode=0o700)
        for namespaces, create in (
            ((EAST, WEST), create_sites),
            ((EDGE1, EDGE2, HUB), create_hops),
        ):
            routes.append(stack.enter_context(skupper_sites(cli, namespaces, create, backends)))
        idle = {route.name: path_memory(route) for route in routes[1:]}
        notes: list[str] = []
        results = measure_all(routes, iperf_port, settings, notes)
        print()
        print(table(results))
        print(f"load average after the runs: {load_average()}")
        for note in notes:
            print(note)
        for route in routes[1:]:
            print(f"RSS of {route.name}, idle before the runs: {idle[route.name]}")
            print(f"RSS of {route.name}, after the runs:       {path_memory(route)}")
        log("cleaning up")


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        open_files = raise_open_files()
        ensure_tools()
        print(header(settings, open_files), flush=True)
        run(settings)
    except BenchError as error:
        log(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted; everything started here has been stopped")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
