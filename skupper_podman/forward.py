"""``skupper-forward LISTEN_PORT TARGET_HOST TARGET_PORT``: a TCP port forwarder.

A site on Podman or Docker runs one small container per listener with this program: the
container publishes the listener's port on the host and carries the listener's names
(routing key, listener name) on the site network, and forwards each connection to the
router container's tcpListener. Creating or deleting a listener then starts or removes a
container and never touches the router's (docs/architecture.md, "Containers").

Each connection gets two threads that splice bytes kernel-side (socket -> pipe ->
socket, no copy into Python); a FIN is forwarded as a half-close.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import threading

CHUNK = 1 << 16


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


def _serve_connection(client: socket.socket, target_host: str, target_port: int) -> None:
    try:
        upstream = socket.create_connection((target_host, target_port), timeout=10)
    except OSError:
        client.close()
        return
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
    server = socket.create_server(("", listen_port), backlog=128, reuse_port=False)
    while True:
        client, _address = server.accept()
        threading.Thread(
            target=_serve_connection, args=(client, target_host, target_port), daemon=True
        ).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skupper-forward", description=__doc__)
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_host")
    parser.add_argument("target_port", type=int)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.listen_port, args.target_host, args.target_port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
