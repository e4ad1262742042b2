"""The TCP flows of a site's router (live ones and those that ended last), and how a flow
collector reaches the router."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skupper_podman import certs
from skupper_podman.site.migration import open_site
from skupper_podman.site.runtime import query

FLOW_ATTRIBUTES = (
    "name", "side", "via", "address", "state", "bytesIn", "bytesOut", "uptimeSeconds",
    "endedSecondsAgo", "latencyMs",
)  # fmt: skip


def flows(namespace: str) -> list[dict[str, Any]]:
    """Each flow as the router tells it (``tcpConnection``): live first, then ended."""
    return query(open_site(namespace), "tcpConnection", FLOW_ATTRIBUTES)


@dataclass(frozen=True)
class RouterAccess:
    """How a local client reaches the site's router: what the console's collector uses."""

    site: str
    management_port: int
    credential: Path  # the site's local client certificate folder


def router_access(namespace: str) -> RouterAccess:
    store = open_site(namespace)
    return RouterAccess(
        store.load().site.name,
        store.facts().management_port,
        store.credential_folder(certs.LOCAL_CLIENT),
    )
