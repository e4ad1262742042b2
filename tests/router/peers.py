"""Real TCP peers for router tests: backends and clients on loopback, in threads."""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import threading
import time
from dataclasses import dataclass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


class EchoHandler(socketserver.BaseRequestHandler):
    """Echo every byte; when the client half-closes, finish writing and half-close too."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        try:
            while data := sock.recv(1 << 18):
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the connection was cut (a router killed by the test): nothing to echo


class StreamHandler(socketserver.BaseRequestHandler):
    """Hash what arrives while sending ``server.send_size`` random bytes; record both hashes."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        server: Backend = self.server  # type: ignore[assignment]
        sent = hashlib.sha256()

        def send() -> None:
            remaining = server.send_size
            try:
                while remaining > 0:
                    chunk = os.urandom(min(remaining, 1 << 18))
                    sent.update(chunk)
                    sock.sendall(chunk)
                    remaining -= len(chunk)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the client went away (a readiness probe): nothing to record

        writer = threading.Thread(target=send)
        writer.start()
        received = hashlib.sha256()
        try:
            while data := sock.recv(1 << 18):
                received.update(data)
        except ConnectionResetError:
            return  # the client's flow was reset (a test's end): no result to record
        finally:
            writer.join()
        server.results.append((received.hexdigest(), sent.hexdigest()))


OPEN_BACKENDS: set[Backend] = set()  # closed by tests/conftest.py after each test


class Backend(_Server):
    """A backend serving in a thread until closed (at the latest after its test)."""

    def __init__(
        self, handler: type[socketserver.BaseRequestHandler], send_size: int = 0, port: int = 0
    ) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.send_size = send_size
        self.results: list[tuple[str, str]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()
        OPEN_BACKENDS.add(self)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def has_result(self, result: tuple[str, str], timeout: float = 10.0) -> bool:
        """Whether a connection that received/sent these hashes finished within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result in self.results:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        if self in OPEN_BACKENDS:
            OPEN_BACKENDS.discard(self)
            self.shutdown()
            self.server_close()


@dataclass
class StreamResult:
    sent_sha: str
    received_sha: str
    received: int


def stream_through(port: int, send_size: int, *, timeout: float = 60.0) -> StreamResult:
    """Send ``send_size`` random bytes, half-close, and read everything that comes back."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sent = hashlib.sha256()

    def send() -> None:
        remaining = send_size
        while remaining > 0:
            chunk = os.urandom(min(remaining, 1 << 18))
            sent.update(chunk)
            sock.sendall(chunk)
            remaining -= len(chunk)
        sock.shutdown(socket.SHUT_WR)

    writer = threading.Thread(target=send)
    writer.start()
    received = hashlib.sha256()
    count = 0
    while data := sock.recv(1 << 18):
        received.update(data)
        count += len(data)
    writer.join()
    sock.close()
    return StreamResult(sent.hexdigest(), received.hexdigest(), count)


def echo_once(port: int, payload: bytes, *, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def wait_closed(sock: socket.socket, timeout: float) -> float:
    """Seconds until the peer closes ``sock`` (EOF or reset); raises on timeout."""
    sock.settimeout(timeout)
    start = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


class TagHandler(socketserver.BaseRequestHandler):
    """Answers every connection with the server's ``tag`` bytes, then closes."""

    def handle(self) -> None:
        self.request.sendall(self.server.tag)  # type: ignore[attr-defined]


def tagged_backend(tag: bytes) -> Backend:
    backend = Backend(TagHandler)
    backend.tag = tag  # type: ignore[attr-defined]
    return backend


def read_all(port: int, timeout: float = 10.0) -> bytes:
    """Connect, send nothing, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        data = b""
        while chunk := client.recv(100):
            data += chunk
        return data
