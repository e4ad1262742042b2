"""``skupper-forward LISTEN_PORT TARGET_HOST TARGET_PORT``: a TCP port forwarder.

A site on Podman or Docker runs one small container per listener with this program: the
container publishes the listener's port on the host and carries the listener's names
(routing key, listener name) on the site network, and forwards each connection to the
router container's tcpListener. Creating or deleting a listener then starts or removes a
container and never touches the router's (docs/architecture.md, "Containers").

Each connection gets two threads that splice bytes kernel-side (socket -> pipe ->
socket, no copy into Python); a FIN is forwarded as a half-close. When the router cannot
be reached (or again can), one line says so on stderr, the container's log.
``skupper-forward --check ...`` connects once to the target and says whether it could:
`site status` runs it inside each listener container.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading

CHUNK = 1 << 16
CONNECT_TIMEOUT = 10.0
CHECK_TIMEOUT = 3.0


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Move bytes one way until EOF, then half-close the other side."""
    with contextlib.suppress(OSError):
        _splice_loop(source, target)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _splice_loop(source: socket.socket, target: socket.socket) -> None:
    if not hasattr(os, "splice"):
        _copy_loop(source, target)
        return
    read_end, write_end = os.pipe()
    try:
        while True:
            try:
                moved = os.splice(source.fileno(), write_end, CHUNK)
            except OSError as error:
                if error.errno in (22, 38):  # EINVAL/ENOSYS: no splice here
                    _copy_loop(source, target)
                    return
                raise
            if moved == 0:
                return
            while moved:
                moved -= os.splice(read_end, target.fileno(), moved)
    finally:
        os.close(read_end)
        os.close(write_end)


def _copy_loop(source: socket.socket, target: socket.socket) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while True:
        count = source.recv_into(buffer)
        if count == 0:
            return
        target.sendall(view[:count])


def _log(line: str) -> None:
    """One line on stderr in one write. ``print`` writes the text and its newline apart
    (the image runs Python unbuffered), and the engine can read them apart: Podman 4.3 then
    stores the text as a partial line, which ``podman logs --tail N`` leaves out."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class Upstream:
    """The router container's tcpListener, resolved once rather than per connection.

    A name lookup per connection put the engine's DNS server (aardvark on rootless
    Podman) on every client's path, where a slow answer holds an accepted connection
    for seconds. The address is looked up again only when a connection to it fails
    (the router container was recreated elsewhere), and every address the name has is
    tried: an engine whose container went away uncleanly can leave its old address in
    the DNS beside the new one ("No route to host" to the first, seen on rootless Podman).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._address: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._failing = False

    def reached(self, error: OSError | None) -> None:
        """Note the outcome of a connection attempt; log only when that changes."""
        with self._lock:
            was, self._failing = self._failing, error is not None
        if error is not None and not was:
            _log(f"cannot reach the router at {self.host}:{self.port}: {error}")
        elif error is None and was:
            _log(f"reaches the router at {self.host}:{self.port} again")

    def resolve(self) -> list[tuple[str, int]]:
        infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys((str(i[4][0]), int(i[4][1])) for i in infos))
        with self._lock:
            if self._address is None or self._address not in addresses:
                self._address = addresses[0]
        return addresses

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> socket.socket:
        with self._lock:
            cached = self._address
        error: OSError = OSError(f"{self.host} has no address")
        if cached is not None:
            try:
                return socket.create_connection(cached, timeout=timeout)
            except OSError as failed:
                error = failed
            # Said now: looking the name up again can take as long again, or longer,
            # where the engine's DNS no longer knows a router cut off from the network.
            self.reached(error)
        for address in self.resolve():
            if address == cached:
                continue  # just failed
            try:
                connected = socket.create_connection(address, timeout=timeout)
            except OSError as failed:
                error = failed
                continue
            with self._lock:
                self._address = address
            return connected
        raise error


def _serve_connection(client: socket.socket, target: Upstream) -> None:
    try:
        upstream = target.connect()
    except OSError as error:
        target.reached(error)
        client.close()
        return
    target.reached(None)
    upstream.settimeout(None)
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(listen_port: int, target_host: str, target_port: int) -> None:
    target = Upstream(target_host, target_port)
    try:
        target.resolve()  # before the first client; if the name is not known yet, then
    except OSError as error:
        target.reached(error)
    server = socket.create_server(("", listen_port), backlog=128, reuse_port=False)
    while True:
        client, _address = server.accept()
        threading.Thread(target=_serve_connection, args=(client, target), daemon=True).start()


def check(target: Upstream) -> int:
    """Connect once to the target: exit 0 if it accepts, 1 with the reason if not."""
    try:
        connected = target.connect(timeout=CHECK_TIMEOUT)
    except OSError as error:
        print(f"cannot reach {target.host}:{target.port}: {error}")
        return 1
    host = connected.getpeername()[0]
    connected.close()
    print(f"reaches {target.host}:{target.port} ({host})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skupper-forward", description=__doc__)
    parser.add_argument("--check", action="store_true", help="Connect once to the target.")
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_host")
    parser.add_argument("target_port", type=int)
    args = parser.parse_args(argv)
    if args.check:
        return check(Upstream(args.target_host, args.target_port))
    # The forwarder is its container's PID 1, which the kernel spares every signal it has
    # no handler for: without one, stopping the container waits out the engine's 10 s
    # grace period and then kills it.
    signal.signal(signal.SIGTERM, _stop)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.listen_port, args.target_host, args.target_port)
    return 0


def _stop(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
