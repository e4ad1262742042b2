"""TLS peers for tests: ``openssl s_server`` as a TLS backend, ``curl`` as a TLS client,
a plain HTTP backend and a line client."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from skupper_podman import certs
from tests.ports import free_port
from tests.routernet import wait_for_port

LOCAL_HOSTS = ("127.0.0.1", "localhost")


def credential_folder(folder: Path, credential: certs.Credential) -> Path:
    certs.write_credential(folder, credential.files())
    return folder


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello over the network\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_backend() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


class SServer:
    """``openssl s_server -rev``: a TLS backend that answers each line reversed."""

    def __init__(self, folder: Path, *, client_ca: Path | None = None) -> None:
        self.port = free_port()
        command = [
            "openssl", "s_server", "-quiet", "-rev", "-accept", f"127.0.0.1:{self.port}",
            "-cert", str(folder / certs.CERT_FILE), "-key", str(folder / certs.KEY_FILE),
        ]  # fmt: skip
        if client_ca is not None:
            command += ["-Verify", "1", "-CAfile", str(client_ca)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port)

    def close(self) -> str:
        self.process.kill()
        output, _ = self.process.communicate(timeout=10)
        return output.decode(errors="replace")


def reversed_line(port: int, line: bytes = b"hello tls\n", timeout: float = 10) -> bytes:
    """A plain client through the listener: send a line, read the answer line."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(line)
        answer = b""
        while not answer.endswith(b"\n"):
            data = client.recv(4096)
            if not data:
                break
            answer += data
        return answer


def curl(port: int, ca: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--cacert", str(ca), *extra,
         f"https://localhost:{port}/"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
