"""Small socket helpers of the driver."""

from __future__ import annotations

import contextlib
import resource
import socket


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind synchronously, so that a port in use is reported at once, not in a task."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and not host:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(512)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def describe_os_error(error: OSError) -> str:
    return error.strerror or str(error)


OUT_OF_FILES = "out of file descriptors"  # a dial refused here, not by the backend
RESERVED_FDS = 128  # kept for management, router links, logs and the metrics scrape


def flow_socket_budget() -> int:
    """How many TCP flow sockets this process may hold: its file descriptor limit less
    what management and the router links need, so that those still answer when clients
    take everything the data plane may have."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(soft - RESERVED_FDS, 16)
