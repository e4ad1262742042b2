"""Real HTTP servers for observation tests, in threads on loopback: HTTP/1.1 (the
standard library's server, keep-alive) and HTTP/2 over cleartext (the ``h2`` library's
server side). Both answer GET /<n> with ``body(n)`` and POST with the body's SHA-256."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from typing import Any

import h2.config
import h2.connection
import h2.events


def body(size: int) -> bytes:
    """``size`` bytes that differ along their length (a cut or a swap shows)."""
    pattern = hashlib.sha256(str(size).encode()).hexdigest().encode()
    return (pattern * (size // len(pattern) + 1))[:size]


def answer(method: str, path: str, request_body: bytes) -> tuple[int, bytes]:
    if method == "POST":
        return 200, hashlib.sha256(request_body).hexdigest().encode()
    size = path.strip("/")
    return (200, body(int(size))) if size.isdigit() else (404, b"no such thing\n")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        status, content = answer(method, self.path, self.rfile.read(length))
        self.send_response(status)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(content)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: object) -> None:
        pass


class Http1Backend(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)


class H2Backend:
    """HTTP/2 with prior knowledge (h2c), one thread per connection."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def close(self) -> None:
        self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        conn = h2.connection.H2Connection(config)
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        requests: dict[int, tuple[dict[str, str], bytearray]] = {}
        with sock:
            while data := _recv(sock):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        requests[event.stream_id] = (_headers(event.headers), bytearray())
                    elif isinstance(event, h2.events.DataReceived):
                        requests[event.stream_id][1].extend(event.data)
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, content = requests.pop(event.stream_id)
                        status, reply = answer(headers[":method"], headers[":path"], bytes(content))
                        conn.send_headers(event.stream_id, [(":status", str(status))])
                        size = conn.max_outbound_frame_size  # curl's window takes it all
                        for start in range(0, len(reply), size):
                            conn.send_data(event.stream_id, reply[start : start + size])
                        conn.end_stream(event.stream_id)
                sock.sendall(conn.data_to_send())


def _headers(headers: Any) -> dict[str, str]:
    """h2's headers (str, as the server's header_encoding asks) by name."""
    return {str(name): str(value) for name, value in headers}


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""
