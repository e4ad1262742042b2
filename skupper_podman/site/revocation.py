"""Which client certificates this site handed out, and revoking them.

Each certificate a site signs for another site is recorded with its holder's name and its
SHA-256 fingerprint: `link generate` writes `issued/<fingerprint>.json`; the grant server
adds one to the grant's file at each redemption. `link revoke NAME` appends the
fingerprints of NAME's certificates to `revoked.txt`, which the router config names in a
`revocation` entity; the reload that follows closes NAME's connections, and the router
refuses its reconnections. Nothing else changes: no new CA, no relinking of others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography import x509

from skupper_podman.errors import SkupperError
from skupper_podman.files import write_atomically
from skupper_podman.router.grant_records import (
    GrantFileError,
    IssuedIdentity,
    fingerprint,
    iso,
    read_grants,
    write_json_atomically,
)
from skupper_podman.site.migration import open_site
from skupper_podman.site.runtime import reconfigure
from skupper_podman.site.store import SiteStore


def record_generated(store: SiteStore, link_name: str, cert: x509.Certificate) -> None:
    """Remember a certificate made by `link generate` (its holder is the link's name)."""
    identity = IssuedIdentity(
        name=link_name,
        link=link_name,
        fingerprint=fingerprint(cert),
        issued=iso(cert.not_valid_before_utc),
    )
    write_json_atomically(store.paths.issued / f"{identity.fingerprint}.json", identity.to_json())


def issued_identities(store: SiteStore) -> list[IssuedIdentity]:
    """Every certificate this site handed out: generated links, then token redemptions."""
    found = []
    for path in sorted(store.paths.issued.glob("*.json")):
        try:
            found.append(IssuedIdentity.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, GrantFileError):
            continue
    for grant in read_grants(store.paths.grants):
        found += grant.identities
    return found


def revoked_fingerprints(store: SiteStore) -> set[str]:
    try:
        return set(store.paths.revoked_file.read_text().split())
    except FileNotFoundError:
        return set()


@dataclass(frozen=True)
class Revoked:
    name: str
    certificates: int  # newly revoked now
    already: int  # revoked before
    reloaded: bool


def revoke_link(namespace: str, name: str) -> Revoked:
    """Revoke every certificate handed out to `name` (a redeeming site's name, or the
    name of a generated link)."""
    store = open_site(namespace)
    identities = issued_identities(store)
    matching = {i.fingerprint for i in identities if i.name == name}
    if not matching:
        holders = sorted({i.name for i in identities})
        known = f"; issued to: {', '.join(holders)}" if holders else "; it issued none"
        raise SkupperError(f"this site issued no link credentials to {name}{known}")
    new = add_revoked(store, matching)
    return Revoked(name, len(new), len(matching) - len(new), reconfigure(store))


def add_revoked(store: SiteStore, fingerprints: set[str]) -> list[str]:
    """Add ``fingerprints`` to the site's revocation list (the router reads it at its next
    reload); returns those that were not in it yet."""
    revoked = revoked_fingerprints(store)
    new = sorted(fingerprints - revoked)
    if new:
        lines = [*sorted(revoked), *new]
        write_atomically(store.paths.revoked_file, "\n".join(lines) + "\n")
    return new
