"""The names and addresses of this host that go into its server certificates."""

from __future__ import annotations

import socket

WILDCARD_HOSTS = ("", "0.0.0.0", "::")


def server_hosts(bind_host: str | None, extra: list[str]) -> list[str]:
    """The names and addresses other sites may use to reach this host."""
    hostname = socket.gethostname()
    hosts = [hostname, socket.getfqdn(), "localhost", "127.0.0.1", "::1", *extra]
    if bind_host and bind_host not in WILDCARD_HOSTS:
        hosts.append(bind_host)
    try:
        for *_rest, address in socket.getaddrinfo(hostname, None):
            hosts.append(str(address[0]))
    except OSError:
        pass  # an unresolvable host name still gets its name in the certificate
    return [h for h in dict.fromkeys(hosts) if h]
