"""Renewing a site's certificates (`site rotate-certs`), and saying when they expire.

- The server certificate of the link access: a new key and certificate from the CA that
  peers trust, with the same names. The router serves it from the next connection on.
- The site CA, in two steps so that no linked site is cut off by surprise:
  1. ``--ca``: a new CA signs every new link and token; the previous CA (kept in
     ``certs/skupper-site-ca-previous/``) still signs the server certificate; client
     certificates of either are accepted and new peers are given both to trust. Linked
     sites keep working and can be given new links or tokens meanwhile.
  2. ``--ca --finish``: the server certificate comes from the new CA, the previous CA is
     no longer trusted, and every certificate handed out before step 1 is revoked (their
     connections close). Sites that were not linked again stay down.
"""

from __future__ import annotations

import datetime
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from skupper_podman import certs
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.files import write_atomically
from skupper_podman.routerconfig import TRUST_FILE
from skupper_podman.site import router_access
from skupper_podman.site.migration import open_site
from skupper_podman.site.revocation import add_revoked, issued_identities
from skupper_podman.site.runtime import reconfigure
from skupper_podman.site.store import SiteStore

EXPIRY_WARNING = datetime.timedelta(days=30)
ROTATION_FILE = "rotation.json"  # in the previous CA's folder: when, and what it signed


@dataclass(frozen=True)
class Rotated:
    """What `rotate-certs` changed, and what the user must do next."""

    summary: str
    reloaded: bool
    notes: tuple[str, ...] = field(default=())


def _access(store: SiteStore) -> tuple[res.Site, res.RouterAccess]:
    resources = store.load()
    access = resources.router_access
    if access is None or not resources.site.spec.has_link_access:
        raise SkupperError(
            f"site {resources.site.name} has no link access: it has no server certificate "
            "to rotate; 'site rotate-certs --ca' renews its CA"
        )
    if router_access.brought_secret(access, {s.name: s for s in resources.secrets}):
        raise SkupperError(
            f"the link access certificate is brought by Secret {access.spec.tls_credentials}: "
            "apply a renewed Secret to rotate it"
        )
    return resources.site, access


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rotate_server_certificate(namespace: str) -> Rotated:
    store = open_site(namespace)
    site, access = _access(store)
    router_access.issue_server_credential(store, site.name, access)
    issuer = router_access.server_issuer(store).cert.subject.rfc4514_string()
    return Rotated(f"new link access server certificate, signed by {issuer}", reconfigure(store))


def start_ca_rotation(namespace: str) -> Rotated:
    store = open_site(namespace)
    if router_access.ca_rotating(store):
        raise SkupperError(
            "a CA rotation is already under way: finish it with 'site rotate-certs --ca --finish'"
        )
    resources = store.load()
    current = store.credential_folder(certs.SITE_CA)
    previous = store.credential_folder(certs.PREVIOUS_SITE_CA)
    old_ca = certs.read_credential(current)
    if resources.router_access is None or not resources.site.spec.has_link_access:
        certs.write_credential(current, certs.new_ca(f"{resources.site.name} site CA").files())
        return Rotated("new site CA (no link access: nothing else to change)", reconfigure(store))
    _access(store)
    handed_out = sorted({identity.fingerprint for identity in issued_identities(store)})
    staging = previous.with_name(previous.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    certs.write_credential(staging, old_ca.files())
    record = {"started": _now().isoformat(), "handedOut": handed_out}
    write_atomically(staging / ROTATION_FILE, json.dumps(record, indent=1) + "\n")
    staging.rename(previous)  # from here on the site is rotating; the CA changes next
    new_ca = certs.new_ca(f"{resources.site.name} site CA")
    certs.write_credential(current, new_ca.files())
    certs.write_credential(current, {TRUST_FILE: router_access.site_ca_trust(store)})
    access = resources.router_access
    folder = store.credential_folder(access.spec.tls_credentials)
    certs.write_credential(folder, {certs.CA_FILE: router_access.site_ca_trust(store)})
    return Rotated(
        "new site CA: new links and tokens are signed by it; linked sites keep working",
        reconfigure(store),
        (
            f"{len(handed_out)} link certificate(s) were handed out under the previous CA: "
            "give those sites a new link or token, then run 'site rotate-certs --ca --finish'",
        ),
    )


def finish_ca_rotation(namespace: str) -> Rotated:
    store = open_site(namespace)
    if not router_access.ca_rotating(store):
        raise SkupperError("no CA rotation is under way: start one with 'site rotate-certs --ca'")
    site, access = _access(store)
    previous = store.credential_folder(certs.PREVIOUS_SITE_CA)
    try:
        record = json.loads((previous / ROTATION_FILE).read_text())
        handed_out = set(record["handedOut"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SkupperError(f"cannot read {previous / ROTATION_FILE}: {error}") from None
    new = add_revoked(store, handed_out)
    shutil.rmtree(previous)
    (store.credential_folder(certs.SITE_CA) / TRUST_FILE).unlink(missing_ok=True)
    router_access.issue_server_credential(store, site.name, access)
    return Rotated(
        "the new site CA signs the server certificate; the previous CA is no longer trusted",
        reconfigure(store),
        (f"{len(new)} link certificate(s) of the previous CA revoked: those sites must link again",)
        if new
        else (),
    )


def _expiry(path: Path) -> datetime.datetime | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
    except (OSError, ValueError):
        return None


def certificate_expiries(store: SiteStore) -> dict[str, datetime.datetime]:
    """Each of the site's certificates (by folder name) and when it expires."""
    found = {}
    for path in sorted(store.paths.root.glob(f"certs/*/{certs.CERT_FILE}")):
        expires = _expiry(path)
        if expires is not None:
            found[path.parent.name] = expires
    return found


def certificate_warnings(store: SiteStore, now: datetime.datetime | None = None) -> list[str]:
    """One line for each of the site's certificates that expires within 30 days (or has),
    and one while a CA rotation waits to be finished."""
    moment = now or _now()
    warnings = []
    for name, expires in certificate_expiries(store).items():
        if expires - moment > EXPIRY_WARNING:
            continue
        when = f"{expires:%Y-%m-%d}"
        if expires <= moment:
            warnings.append(f"certificate {name} expired on {when}")
        else:
            days = (expires - moment).days
            warnings.append(f"certificate {name} expires on {when} (in {days} days)")
    if router_access.ca_rotating(store):
        warnings.append(
            "a CA rotation is under way: once linked sites have new links, run "
            "'site rotate-certs --ca --finish'"
        )
    return warnings
