"""The paths bench.py measures, each a ``Route``: an stunnel mutual-TLS pair, and our sites
made with the CLI (two sites, and edge - hub - edge) in a temporary SKUPPER_PODMAN_HOME."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from loopback import LOOPBACK, BenchError, echo_works, free_ports, log, port_bound, wait_until
from processes import is_our_router, memory, rss_mb, start_process, stop_process

from skupper_podman.certs import issue_client_cert, issue_server_cert, new_ca, write_credential

CLI_TIMEOUT = 60.0  # seconds, for one skupper-podman command
OURS, STUNNEL, DIRECT = "skupper-podman", "stunnel (mTLS)", "direct"
HOPS = "skupper-podman 3 hops"
WEST, EAST = "bench-west", "bench-east"
HUB, EDGE1, EDGE2 = "bench-hub", "bench-e1", "bench-e2"

Figures = dict[str, float]


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


def path_memory(route: Route) -> str:
    return ", ".join(f"{name} {memory(pid)}" for name, pid in route.processes().items())


def largest_rss(route: Route) -> Figures:
    """The RSS of the path's largest process, as the figure `rss_idle` (none if unknown)."""
    sizes = [rss_mb(pid) for pid in route.processes().values()]
    known = [size for size in sizes if size is not None]
    return {"rss_idle": max(known)} if known and len(known) == len(sizes) else {}


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
