"""Which TCP ports are free: not bound on this host and not claimed by any site's resources.

A tcpListener opens its socket only while a connector for its key exists somewhere, so a
configured but idle listener holds no socket; the resources are checked as well.
"""

from __future__ import annotations

import contextlib
import socket

from skupper_podman.errors import SkupperError
from skupper_podman.site.store import all_stores

MAX_PORT = 65535
LOOPBACK_PORT_START = 19672  # below the ephemeral range, clear of well-known services


def can_bind(host: str, port: int) -> bool:
    """Whether a listening socket could be opened on host:port now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Without SO_REUSEADDR a port in TIME_WAIT would look taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def claimed_ports() -> dict[int, str]:
    """Ports used by the resources of every site on this host -> who uses them."""
    claimed: dict[int, str] = {}
    for store in all_stores():
        with contextlib.suppress(SkupperError):
            resources = store.load()
            for listener in resources.listeners:
                claimed[listener.spec.port] = f"listener {listener.name} ({store.namespace})"
            if resources.router_access is not None:
                for role in resources.router_access.spec.roles:
                    claimed[role.port] = f"site {resources.site.name} ({store.namespace})"
        with contextlib.suppress(SkupperError):
            facts = store.facts()
            claimed[facts.management_port] = f"management of {store.namespace}"
            if facts.grant_server_port is not None:
                claimed[facts.grant_server_port] = f"grant server of {store.namespace}"
            if facts.metrics_port is not None:
                claimed[facts.metrics_port] = f"metrics of {store.namespace}"
    return claimed


def require_free(host: str, port: int, *, what: str) -> None:
    """Raise a SkupperError saying why `port` cannot be used for `what`."""
    owner = claimed_ports().get(port)
    if owner is not None:
        raise SkupperError(f"port {port} for {what} is already used by {owner}")
    if not can_bind(host, port):
        raise SkupperError(f"port {port} for {what} is in use on {host}")


def first_free(host: str, start: int, *, exclude: set[int] | None = None) -> int:
    """The first port from `start` up that is free (used when no port was asked for)."""
    claimed = set(claimed_ports()) | (exclude or set())
    for port in range(start, MAX_PORT + 1):
        if port not in claimed and can_bind(host, port):
            return port
    raise SkupperError(f"no free port at or above {start} on {host}")


def loopback_port(*, exclude: set[int] | None = None) -> int:
    """A free port on 127.0.0.1 for the router's own listeners (management, metrics).

    Not one of the kernel's ephemeral ports (32768-60999 by default): while the site is
    stopped (over a reboot, say) any outgoing connection may take such a port as its source
    port, and the site could not start again until that connection ends.
    """
    return first_free("127.0.0.1", LOOPBACK_PORT_START, exclude=exclude)
