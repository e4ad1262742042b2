"""Sockets on loopback for the benches: free ports, a 64-byte echo, and the backends
(a threaded echo server in a child process, a one-off iperf3 server)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import socketserver
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from processes import start_process, stop_process

LOOPBACK = "127.0.0.1"
PAYLOAD = os.urandom(64)
IO_TIMEOUT = 10.0  # seconds, for any single socket operation
READY_TIMEOUT = 30.0  # seconds, for a path to start carrying traffic


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


def log(message: str) -> None:
    """A step of a bench, to stderr with the time (the figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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
