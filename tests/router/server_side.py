"""The server side of mutual-TLS links, shared by the in-memory and the process networks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from skupper_podman import certs


def add_link_listeners(
    add: Callable[..., None],
    folder: Path,
    ca: certs.Credential,
    name: str,
    host: str,
    ports: dict[str, int],
) -> None:
    """A server certificate from ``ca`` in ``folder``, and one listener requiring a client
    certificate per role in ``ports`` (role -> port), each named after its role."""
    server = certs.issue_server_cert(ca, name, ["localhost", host])
    certs.write_credential(folder / "server", server.files())
    add(
        "sslProfile",
        name="site-server",
        caCertFile="server/ca.crt",
        certFile="server/tls.crt",
        privateKeyFile="server/tls.key",
    )
    for role, port in ports.items():
        add(
            "listener",
            name=role,
            host=host,
            port=port,
            role=role,
            sslProfile="site-server",
            saslMechanisms="EXTERNAL",
            authenticatePeer=True,
        )
