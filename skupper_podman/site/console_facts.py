"""What the console needs of the site: how its flow collector reaches the site's router,
and the site's own links, certificates and grants."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skupper_podman import certs
from skupper_podman.site.links import link_status
from skupper_podman.site.migration import open_site
from skupper_podman.site.rotation import certificate_expiries
from skupper_podman.site.tokens import list_grants


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


def local_facts(namespace: str) -> dict[str, Any]:
    """What the console shows of this site beside the network: its links, certificates
    (with their expiry) and grants."""
    store = open_site(namespace)
    return {
        "links": [link.to_dict() for link in link_status(namespace)],
        "certificates": [
            {"name": name, "expires": f"{expires:%Y-%m-%d}"}
            for name, expires in certificate_expiries(store).items()
        ],
        "grants": [
            {"name": g.name, "status": g.status, "expires": g.expiration, "remaining": g.remaining}
            for g in list_grants(namespace)
        ],
    }
