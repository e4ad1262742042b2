"""The grant server of a running site under abuse (``router/grants.py``): garbage,
a non-ASCII Content-Length, oversized heads and bodies, a stalled TLS handshake, a
flood of connections. It answers or closes each, logs no traceback, keeps its memory, and
still answers a proper request afterwards."""

from __future__ import annotations

import concurrent.futures
import socket
import ssl
import threading
import time
from pathlib import Path

from tests.cli_helpers import namespace_folder, ok
from tests.ports import free_port
from tests.reliability.figures import report

GARBAGE = [
    b"\x16\x03\x01\x00\x05hello",
    b"GET / HTTP/1.1\r\n\r\n",
    b"POST /abc HTTP/1.1\r\nContent-Length: \xd9\xa1\xd9\xa2\r\n\r\nxx",  # Arabic-Indic digits
    b"POST /abc HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"POST /abc HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /abc HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
    b"POST /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
    b"POST /abc HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000,
    b"\r\n\r\n",
    b"POST /../../etc/passwd HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    b"BREW /pot HTCPCP/1.0\r\n\r\n",
    b"POST /abc HTTP/1.1\r\nname: " + "é".encode() * 3000 + b"\r\nContent-Length: 1\r\n\r\nx",
]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _send(port: int, context: ssl.SSLContext, data: bytes) -> bytes:
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=15) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(data)
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
            return answer
    except (OSError, ssl.SSLError):
        return b""  # closed on us: an answer too


def test_grant_server_holds_under_abuse(router_available: None, skupper_home: Path) -> None:
    grant_port = free_port()
    ok("site", "init", "east", "--link-access", "--bind-host", "127.0.0.1",
       "--port", str(free_port()), "--grant-port", str(grant_port), "-n", "east")  # fmt: skip
    folder = namespace_folder(skupper_home, "east")
    pid = int((folder / "runtime" / "router.pid").read_text())
    context = ssl.create_default_context(
        cafile=str(folder / "certs" / "skupper-site-ca" / "tls.crt")
    )
    context.check_hostname = False
    start_rss = _rss_kib(pid)

    # a stalled handshake: TCP only, nothing sent (watched while the garbage goes in)
    stalled = socket.create_connection(("127.0.0.1", grant_port), timeout=30)
    stalled_at = time.monotonic()
    held: list[float] = []

    def watch() -> None:
        stalled.recv(10)  # returns when the server closes it
        held.append(time.monotonic() - stalled_at)

    watcher = threading.Thread(target=watch)
    watcher.start()

    with concurrent.futures.ThreadPoolExecutor(32) as pool:  # some wait out the timeout
        answers = list(
            pool.map(lambda i: _send(grant_port, context, GARBAGE[i % len(GARBAGE)]), range(240))
        )
    status_lines = {a.split(b"\r\n", 1)[0] for a in answers}
    report(f"240 garbage requests: answers {sorted(status_lines)}")
    assert all(not a or a.startswith(b"HTTP/1.1 4") for a in answers)

    # a flood of idle connections: the server keeps a bounded number
    flood = [socket.create_connection(("127.0.0.1", grant_port), timeout=10) for _ in range(200)]
    proper = b"POST /0123456789abcdef HTTP/1.1\r\nContent-Length: 4\r\n\r\ncode"
    threads = [threading.Thread(target=s.close) for s in flood]

    watcher.join(30)
    stalled.close()
    assert held, "the stalled handshake was held for more than 30 s"
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answer = _send(grant_port, context, proper)
    assert answer.startswith(b"HTTP/1.1 404"), answer[:100]
    end_rss = _rss_kib(pid)
    report(f"stalled handshake closed after {held[0]:.1f} s; router RSS {start_rss // 1024} MiB "
          f"-> {end_rss // 1024} MiB")  # fmt: skip
    assert held[0] < 15
    assert end_rss - start_rss < 24 * 1024
    log = (folder / "runtime" / "router.log").read_text()
    assert "Traceback" not in log and "ValueError" not in log
