"""Access tokens: issue them on a site with link access, redeem them on another site,
list the grants behind them.

`issue_token` writes an AccessGrant resource and its grant file (router/grant_records.py)
and prints an AccessToken: the grant server's URL, the code and the site CA. The grant
server in the issuing site's router checks and counts redemptions; `redeem_token` posts
the code over HTTPS, trusting only the token's CA, and creates the link it gets back
exactly as `link create` does.
"""

from __future__ import annotations

import datetime
import http.client
import re
import secrets
import socket
import ssl
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from skupper_podman import certs, yaml_input
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.platforms import RouterState
from skupper_podman.router.grant_records import (
    Endpoint,
    GrantRecord,
    grant_path,
    iso,
    read_grants,
    write_grant,
)
from skupper_podman.router.http_proxy import ProxyUrl
from skupper_podman.site import ports, router_access
from skupper_podman.site.links import (
    check_new_link_name,
    dial_host,
    install_link,
    link_and_secret,
    require_link_access,
)
from skupper_podman.site.migration import open_site
from skupper_podman.site.proxy import ProxyChoice
from skupper_podman.site.revocation import revoked_fingerprints
from skupper_podman.site.runtime import platform_of
from skupper_podman.site.store import SiteStore

DEFAULT_GRANT_SERVER_PORT = 9090
DEFAULT_EXPIRY = "15m"
REDEEM_TIMEOUT_SECONDS = 15.0
_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def choose_grant_port(bind_host: str | None, requested: int | None, taken: set[int]) -> int:
    """The grant server's port: `requested` if free, else the first free from 9090."""
    host = bind_host or "0.0.0.0"
    if requested is None:
        return ports.first_free(host, DEFAULT_GRANT_SERVER_PORT, exclude=taken)
    if requested in taken:
        raise SkupperError(f"grant server port {requested} is also a link access port")
    ports.require_free(host, requested, what="the grant server")
    return requested


MAX_EXPIRY_SECONDS = 365 * 86400
MAX_USES = 1_000_000


def parse_duration(text: str) -> datetime.timedelta:
    """'90s', '15m', '1h30m', '2d' -> a timedelta (at least one second)."""
    cleaned = text.strip().lower()
    if not cleaned or _DURATION.sub("", cleaned):
        raise SkupperError(f"invalid expiry {text!r}: use a duration like 30s, 15m, 1h30m or 2d")
    if len(cleaned) > 32:
        raise SkupperError(f"invalid expiry {text[:40]!r}: use a duration like 15m or 2d")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(cleaned))
    if seconds < 1:
        raise SkupperError(f"invalid expiry {text!r}: it must be at least 1s")
    if seconds > MAX_EXPIRY_SECONDS:
        raise SkupperError(f"invalid expiry {text!r}: at most {MAX_EXPIRY_SECONDS // 86400}d")
    return datetime.timedelta(seconds=seconds)


@dataclass(frozen=True)
class IssuedToken:
    token_yaml: str
    grant: GrantRecord
    server_answering: bool


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _answering(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False


def issue_token(
    namespace: str,
    *,
    name: str | None = None,
    expiry: str = DEFAULT_EXPIRY,
    uses: int = 1,
    cost: int = 1,
    host: str | None = None,
    code: str | None = None,
) -> IssuedToken:
    """An AccessToken for another site; the grant behind it is kept by this site.
    ``code``: the grant's secret (an AccessGrant's spec.code); made up when None."""
    store = open_site(namespace)
    access = require_link_access(store)
    port = store.facts().grant_server_port
    if port is None:
        raise SkupperError(
            f"site in namespace {namespace} has no grant server: it was made without "
            "--link-access or before tokens existed; re-create it to issue tokens"
        )
    window = parse_duration(expiry)
    if not 1 <= uses <= MAX_USES:
        raise SkupperError(f"invalid --uses {uses}: from 1 to {MAX_USES} redemptions")
    if not 1 <= cost <= res.MAX_COST:
        raise SkupperError(f"invalid --cost {cost}: from 1 to {res.MAX_COST}")
    if host is not None and not host.strip():
        raise SkupperError("invalid --host '': give the host name other sites dial")
    target = dial_host(store, access, host)
    uid = str(uuid.uuid4())
    grant_name = name or f"{store.load().site.name}-{uid[:8]}"
    with res.user_input(f"grant {grant_name}"):
        grant = res.AccessGrant(
            metadata=res.Metadata(name=grant_name),
            spec=res.AccessGrantSpec(
                redemptions_allowed=uses,
                expiration_window=expiry,
                code=code or secrets.token_urlsafe(18),
            ),
        )
    if store.has("AccessGrant", grant_name):
        raise SkupperError(f"a grant named {grant_name} already exists in namespace {namespace}")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    assert grant.spec.code is not None
    record = GrantRecord(
        uid=uid,
        name=grant_name,
        code=grant.spec.code,
        url=f"https://{_url_host(target)}:{port}/{uid}",
        created=now,
        expiration=now + window,
        redemptions_allowed=uses,
        link_cost=cost,
        endpoints=tuple(Endpoint(r.name, target, r.port) for r in access.spec.roles),
    )
    path = grant_path(store.paths.grants, uid)
    assert path is not None
    write_grant(path, record)
    store.write(grant)
    platform_of(store).share_files(store.paths)
    running = platform_of(store).status(store.paths).state is RouterState.RUNNING
    answering = running and _answering(access.spec.bind_host or "127.0.0.1", port)
    return IssuedToken(_token_yaml(store, access, record), record, answering)


def _token_yaml(store: SiteStore, access: res.RouterAccess, record: GrantRecord) -> str:
    token = res.AccessToken(
        metadata=res.Metadata(name=record.name),
        spec=res.AccessTokenSpec(
            url=record.url,
            code=record.code,
            ca=router_access.peer_trust(store, access).decode(),
            link_cost=record.link_cost,
        ),
    )
    return res.dump_yaml([token])


def delete_grant(store: SiteStore, name: str) -> None:
    """Remove the grant ``name``: its resource and its record (no more redemptions)."""
    for record in read_grants(store.paths.grants):
        path = grant_path(store.paths.grants, record.uid)
        if record.name == name and path is not None:
            path.unlink(missing_ok=True)
    store.remove("AccessGrant", name)


def show_token(namespace: str, name: str) -> str:
    """The AccessToken of the site's grant ``name`` again (a grant an AccessGrant made)."""
    store = open_site(namespace)
    access = require_link_access(store)
    for record in read_grants(store.paths.grants):
        if record.name == name:
            return _token_yaml(store, access, record)
    raise SkupperError(f"no grant named {name} in namespace {namespace}")


@dataclass(frozen=True)
class GrantStatus:
    name: str
    url: str
    expiration: str
    status: str
    redemptions: int
    redemptions_allowed: int
    remaining: int
    redeemed_by: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "expirationTime": self.expiration,
            "status": self.status,
            "redemptions": self.redemptions,
            "redemptionsAllowed": self.redemptions_allowed,
            "remaining": self.remaining,
            "redeemedBy": self.redeemed_by,
        }


def list_grants(namespace: str, *, now: datetime.datetime | None = None) -> list[GrantStatus]:
    """The site's grants: expiry, remaining uses and who redeemed them (and if revoked)."""
    store = open_site(namespace)
    moment = now or datetime.datetime.now(datetime.UTC)
    revoked = revoked_fingerprints(store)
    statuses = []
    for record in read_grants(store.paths.grants):
        if moment >= record.expiration:
            state = "expired"
        elif record.remaining == 0:
            state = "used up"
        else:
            state = "active"
        holders = [
            f"{i.name} (revoked)" if i.fingerprint in revoked else i.name for i in record.identities
        ]
        statuses.append(
            GrantStatus(
                name=record.name,
                url=record.url,
                expiration=iso(record.expiration),
                status=state,
                redemptions=record.redemptions,
                redemptions_allowed=record.redemptions_allowed,
                remaining=record.remaining if state == "active" else 0,
                redeemed_by=holders,
            )
        )
    return statuses


# --- redeeming --------------------------------------------------------------------------------


def _read_token(path: Path) -> res.AccessToken:
    items = res.load_yaml(yaml_input.read_text(path, "token file"), str(path))
    if len(items) != 1 or not isinstance(items[0], res.AccessToken):
        raise SkupperError(f"{path}: a token file holds exactly one AccessToken")
    return items[0]


def _post_code(token: res.AccessToken, link_name: str, site_name: str, proxy: str) -> str:
    """POST the code to the token's URL (through ``proxy`` if one is given), trusting only
    the token's CA; the answer text."""
    url = urllib.parse.urlsplit(token.spec.url)
    if url.scheme != "https" or not url.hostname:
        raise SkupperError(f"the token's url {token.spec.url!r} is not an https URL")
    try:
        context = ssl.create_default_context(cadata=token.spec.ca)
    except (ssl.SSLError, ValueError):
        raise SkupperError("the token's ca is not a valid PEM certificate") from None
    where = f"the grant server at {url.hostname}:{url.port or 443}"
    if proxy:
        through = ProxyUrl.parse(proxy)
        where += f" through proxy {through.where}"
        connection = http.client.HTTPSConnection(
            through.host, through.port, context=context, timeout=REDEEM_TIMEOUT_SECONDS
        )
        connection.set_tunnel(url.hostname, url.port or 443, headers=through.authorization())
    else:
        connection = http.client.HTTPSConnection(
            url.hostname, url.port or 443, context=context, timeout=REDEEM_TIMEOUT_SECONDS
        )
    try:
        connection.request(
            "POST",
            url.path or "/",
            body=token.spec.code.encode(),
            headers={"name": link_name, "subject": site_name, "Content-Type": "text/plain"},
        )
        answer = connection.getresponse()
        text = answer.read().decode("utf-8", "replace")
    except ssl.SSLCertVerificationError as error:
        raise SkupperError(
            f"cannot verify {where} with the token's CA ({error.verify_message}): "
            "the token is not from that site, or the site's CA was replaced"
        ) from None
    except ssl.SSLError as error:
        raise SkupperError(f"TLS with {where} failed: {error.reason or error}") from None
    except (OSError, http.client.HTTPException) as error:
        detail = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise SkupperError(f"cannot reach {where}: {detail}") from None
    finally:
        connection.close()
    if answer.status != 200:
        reason = text.strip().splitlines()[0] if text.strip() else answer.reason
        raise SkupperError(f"token refused by {where}: {reason}")
    return text


def redeem_token(
    namespace: str,
    path: Path,
    *,
    name: str | None = None,
    cost: int | None = None,
    proxy: ProxyChoice = ProxyChoice(),
) -> tuple[res.Link, bool]:
    """Redeem the token in `path` and create the link it yields; returns the Link and
    whether the running router was reloaded."""
    return redeem(namespace, _read_token(path), str(path), name=name, cost=cost, proxy=proxy)


def redeem(
    namespace: str,
    token: res.AccessToken,
    where: str,
    *,
    name: str | None = None,
    cost: int | None = None,
    proxy: ProxyChoice = ProxyChoice(),
) -> tuple[res.Link, bool]:
    """Redeem ``token`` (from ``where``, a file or a document) into a link; the redemption
    and the link go through the same proxy, if any."""
    store = open_site(namespace)
    link_name = name or token.name
    with res.user_input("link name"):
        res.Metadata(name=link_name)
    check_new_link_name(store, link_name)  # before a use is spent on the other side
    _refuse_own_token(store, token, where)
    grant_host = urllib.parse.urlsplit(token.spec.url).hostname or ""
    text = _post_code(token, link_name, store.load().site.name, proxy.url_for(grant_host))
    link, secret = link_and_secret(res.load_yaml(text, token.spec.url), token.spec.url)
    return install_link(store, link, secret, token.spec.url, name=link_name, cost=cost, proxy=proxy)


def _refuse_own_token(store: SiteStore, token: res.AccessToken, path: Path | str) -> None:
    try:
        token_ca = x509.load_pem_x509_certificate(token.spec.ca.encode())
    except ValueError:
        raise SkupperError(f"{path}: the token's ca is not a valid PEM certificate") from None
    own_ca = certs.read_credential(store.credential_folder(certs.SITE_CA)).cert
    if token_ca.public_key() == own_ca.public_key() and token_ca.subject == own_ca.subject:
        raise SkupperError(f"{path}: this token was issued by this site; redeem it on another site")
