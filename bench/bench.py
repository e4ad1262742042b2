"""Side-by-side benchmark: two skupper-podman sites vs an stunnel mutual-TLS pair.

One run sets up three paths to the same loopback backends and measures each of them:

- skupper-podman: listener on site east -> router -> mTLS link -> router -> connector on
  site west, set up through the CLI in a temporary SKUPPER_PODMAN_HOME (linux platform);
- stunnel (mTLS): client-side stunnel -> mutual TLS -> server-side stunnel, the reference;
- direct: no proxy, for context.

Measurements: iperf3 single-stream throughput, 64-byte ping-pong RTT (p50/p99) on one
connection, and connect + first echo latency over sequential new connections. The table
gives ours/stunnel for every metric, with the targets of issue 4. Everything runs on
127.0.0.1, every load is bounded in count and time, and everything started here is stopped
at the end, including on failure and Ctrl-C.

Usage: python bench/bench.py [--quick] [--duration SECONDS]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

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

OURS, STUNNEL, DIRECT = "skupper-podman", "stunnel (mTLS)", "direct"
WEST, EAST = "bench-west", "bench-east"


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    duration: int  # iperf3 seconds
    round_trips: int  # ping-pong round trips on one connection
    connects: int  # sequential new connections
    cli: Path


@dataclass(frozen=True)
class Route:
    """Where a client connects to reach the echo and the iperf3 backends over one path."""

    name: str
    echo_port: int
    iperf_port: int


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool
    target: str  # ours/stunnel that issue 4 asks for


METRICS = (
    Metric("gbps", "throughput Gbit/s", True, ">= 0.56"),
    Metric("rtt_p50", "64 B RTT p50 us", False, "<= 2.5"),
    Metric("rtt_p99", "64 B RTT p99 us", False, "-"),
    Metric("connect_p50", "connect+echo p50 ms", False, "<= 0.6"),
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
    route = Route(STUNNEL, front["echo"], front["iperf"])
    configs = (
        stunnel_config(folder, "server", server_creds, {n: (tls[n], backends[n]) for n in tls}),
        stunnel_config(folder, "client", client_creds, {n: (front[n], tls[n]) for n in tls}),
    )
    binary = stunnel_binary() or "stunnel"
    processes = [
        start_process([binary, str(config)], config.with_suffix(".out")) for config in configs
    ]
    try:
        wait_until(lambda: echo_works(route.echo_port), "the stunnel pair")
        wait_until(lambda: port_bound(route.iperf_port), "the stunnel iperf3 service")
        yield route
    finally:
        for process in reversed(processes):
            stop_process(process)


# --- our path: two sites through the CLI ------------------------------------------------


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


def create_sites(cli: Cli, echo_port: int, iperf_port: int) -> Route:
    cli.run("site", "init", "west", "-n", WEST, "--link-access", "--bind-host", LOOPBACK)
    cli.run("site", "init", "east", "-n", EAST)
    link_file = cli.home / "link.yaml"
    link_file.write_text(cli.run("link", "generate", "-n", WEST, "--host", LOOPBACK))
    cli.run("link", "create", str(link_file), "-n", EAST)
    route = Route(OURS, *free_ports(2))
    for name, backend, listen in (
        ("echo", echo_port, route.echo_port),
        ("iperf", iperf_port, route.iperf_port),
    ):
        key = f"bench-{name}"
        connector = ["connector", "create", key, str(backend), "--routing-key", key]
        cli.run(*connector, "--host", LOOPBACK, "-n", WEST)
        cli.run("listener", "create", key, str(listen), "--routing-key", key, "-n", EAST)
    return route


def delete_sites(cli: Cli) -> None:
    """Delete both sites; if the CLI fails, stop a router still running from its pid file."""
    for namespace in (EAST, WEST):
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
def skupper_sites(cli: Cli, echo_port: int, iperf_port: int) -> Iterator[Route]:
    cli.home.mkdir(mode=0o700)
    try:
        route = create_sites(cli, echo_port, iperf_port)
        # A listener listens only once its connector's key has reached its router. The
        # iperf3 path is probed by bind alone: a probe connection would reach the backend
        # port late and could be taken for the control connection of a one-off iperf3 -s.
        wait_until(lambda: echo_works(route.echo_port), "the skupper-podman echo path")
        wait_until(lambda: port_bound(route.iperf_port), "the skupper-podman iperf3 path")
        yield route
    finally:
        # A second Ctrl-C must not cut the clean-up short (the CLI children inherit this).
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            delete_sites(cli)
        finally:
            signal.signal(signal.SIGINT, previous)


def memory(pid: int | None) -> str:
    """VmRSS (and the peak, VmHWM) of a process, from /proc/<pid>/status."""
    if pid is None:
        return "no pid file"
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return f"pid {pid} not running"
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss, peak = (int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))
    return f"{rss:.1f} MiB (peak {peak:.1f} MiB)"


def router_memory(cli: Cli) -> str:
    return ", ".join(f"{ns}: {memory(cli.router_pid(ns))}" for ns in (WEST, EAST))


# --- measurements ----------------------------------------------------------------------


def measure_throughput(route: Route, backend_port: int, settings: Settings) -> Figures:
    """iperf3 single stream, receiver bits per second."""
    command = ["iperf3", "-c", LOOPBACK, "-p", str(route.iperf_port), "-t", str(settings.duration)]
    command += ["-J", "--connect-timeout", "5000"]
    with iperf_server(backend_port):
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
    return {"gbps": report["end"]["sum_received"]["bits_per_second"] / 1e9}


def measure_rtt(route: Route, _backend_port: int, settings: Settings) -> Figures:
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


def measure_connect(route: Route, _backend_port: int, settings: Settings) -> Figures:
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


def percentile(samples: list[int], rank: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[rank - 1]


Measurement = Callable[[Route, int, Settings], Figures]
MEASUREMENTS: tuple[tuple[str, Measurement], ...] = (
    ("iperf3 throughput", measure_throughput),
    ("64 B ping-pong", measure_rtt),
    ("connect + first echo", measure_connect),
)


def measure_all(routes: list[Route], iperf_backend: int, settings: Settings) -> dict[str, Figures]:
    """Each measurement over every path in turn; a failure leaves a gap, not an abort."""
    results: dict[str, Figures] = {route.name: {} for route in routes}
    for title, measure in MEASUREMENTS:
        for route in routes:
            log(f"  {title} via {route.name}")
            try:
                results[route.name].update(measure(route, iperf_backend, settings))
            except (BenchError, OSError) as error:
                log(f"  failed: {error}")
    return results


# --- output ----------------------------------------------------------------------------


def header(settings: Settings) -> str:
    return "\n".join(
        [
            "skupper-podman benchmark (loopback, single stream)",
            f"machine: {os.cpu_count()} cpus (nproc {len(os.sched_getaffinity(0))}), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.2f} (other work on the machine skews figures)",
            f"tools: {first_line(['iperf3', '--version'])}; "
            f"{first_line([stunnel_binary() or 'stunnel', '-version'])}",
            f"settings: iperf3 {settings.duration} s, {settings.round_trips} round trips, "
            f"{settings.connects} new connections",
        ]
    )


def cell(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:#.3g}" if value < 100 else f"{value:.0f}"


def table(results: dict[str, Figures]) -> str:
    columns = ["metric", OURS, STUNNEL, "ours/stunnel", "target", DIRECT]
    rows = [columns]
    for metric in METRICS:
        ours, reference = results[OURS].get(metric.key), results[STUNNEL].get(metric.key)
        ratio = ours / reference if ours is not None and reference else None
        ratio_text = "n/a" if ratio is None else f"{ratio:.2f}x"
        rows.append(
            [
                f"{metric.label} ({'higher' if metric.higher_is_better else 'lower'}=better)",
                cell(ours),
                cell(reference),
                ratio_text,
                metric.target,
                cell(results[DIRECT].get(metric.key)),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = [
        " | ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    lines.append("ours/stunnel: above 1 is better for throughput, below 1 for the latencies.")
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
        return Settings(duration=2, round_trips=1000, connects=100, cli=args.cli)
    return Settings(duration=args.duration, round_trips=5000, connects=300, cli=args.cli)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(settings: Settings) -> None:
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="skupper-bench-")))
        echo_port, (iperf_port,) = stack.enter_context(echo_server()), free_ports(1)
        log("starting the stunnel pair and the two sites")
        routes = [
            Route(DIRECT, echo_port, iperf_port),
            stack.enter_context(stunnel_pair(work / "stunnel", echo_port, iperf_port)),
        ]
        cli = Cli(settings.cli, work / "home")
        routes.append(stack.enter_context(skupper_sites(cli, echo_port, iperf_port)))
        idle = router_memory(cli)
        results = measure_all(routes, iperf_port, settings)
        print()
        print(table(results))
        print(f"router RSS idle, before the runs: {idle}")
        print(f"router RSS after the runs:        {router_memory(cli)}")
        log("cleaning up")


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        ensure_tools()
        print(header(settings), flush=True)
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
