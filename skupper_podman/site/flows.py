"""The TCP flows of a site's router: live ones and those that ended last."""

from __future__ import annotations

from typing import Any

from skupper_podman.site.migration import open_site
from skupper_podman.site.runtime import query

FLOW_ATTRIBUTES = (
    "name", "side", "via", "address", "state", "bytesIn", "bytesOut", "uptimeSeconds",
    "endedSecondsAgo", "latencyMs",
)  # fmt: skip


def flows(namespace: str) -> list[dict[str, Any]]:
    """Each flow as the router tells it (``tcpConnection``): live first, then ended."""
    return query(open_site(namespace), "tcpConnection", FLOW_ATTRIBUTES)
