"""Access grants as files, and redeeming one: no sockets here (router/grants.py serves it).

A grant is one JSON file, `<grantsDir>/<uid>.json`, written by the issuing site's
`token issue` and afterwards only by the grant server (the router) when a token is
redeemed. The file is replaced atomically (temporary file + rename), so a reader never
sees half of it. The site side (skupper_podman/site/tokens.py) imports this module for the
format. Certificates are signed by ``certs``, files written by ``files``, and the answer
is the link file ``resources`` writes for `link generate` too.

Every certificate handed out, by a redemption or by `link generate`, is recorded as an
`IssuedIdentity` (who holds it and its SHA-256 fingerprint), so that `link revoke NAME`
can later refuse exactly those certificates.
"""

from __future__ import annotations

import dataclasses
import datetime
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skupper_podman.files import write_atomically

if TYPE_CHECKING:  # cryptography (and certs with it) is imported where a redemption needs
    # it: it costs the router about 11 MB of memory that an idle site would carry for nothing
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from skupper_podman import certs

CLIENT_VALIDITY = datetime.timedelta(days=5 * 365)
_CLOCK_SKEW = datetime.timedelta(minutes=5)
_UID = re.compile(r"^[0-9a-f][0-9a-f-]{7,63}$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")


class GrantFileError(ValueError):
    """A grant file that cannot be read or does not hold a grant."""


class GrantRefused(Exception):
    """A redemption the grant server refuses: an HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Endpoint:
    name: str  # the role: inter-router or edge
    host: str
    port: int


@dataclass(frozen=True)
class IssuedIdentity:
    """A client certificate this site signed, and for whom."""

    name: str  # the holder: the redeeming site, or the name of a generated link
    link: str  # the Link (and Secret) name inside the credential
    fingerprint: str  # SHA-256 of the DER certificate, lowercase hex
    issued: str  # ISO 8601 UTC

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> IssuedIdentity:
        try:
            return cls(**{f.name: str(data[f.name]) for f in dataclasses.fields(cls)})
        except (KeyError, TypeError):
            raise GrantFileError(f"not an issued identity: {data!r}") from None


@dataclass(frozen=True)
class GrantRecord:
    """One AccessGrant with its status (Skupper's field names where it has them)."""

    uid: str
    name: str
    code: str
    url: str
    created: datetime.datetime
    expiration: datetime.datetime
    redemptions_allowed: int
    link_cost: int
    endpoints: tuple[Endpoint, ...]
    redemptions: int = 0
    identities: tuple[IssuedIdentity, ...] = ()

    @property
    def remaining(self) -> int:
        return max(0, self.redemptions_allowed - self.redemptions)

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "name": self.name,
            "code": self.code,
            "url": self.url,
            "created": iso(self.created),
            "expirationTime": iso(self.expiration),
            "redemptionsAllowed": self.redemptions_allowed,
            "redemptions": self.redemptions,
            "linkCost": self.link_cost,
            "endpoints": [dataclasses.asdict(e) for e in self.endpoints],
            "identities": [i.to_json() for i in self.identities],
        }

    @classmethod
    def from_json(cls, data: Any) -> GrantRecord:
        try:
            return cls(
                uid=str(data["uid"]),
                name=str(data["name"]),
                code=str(data["code"]),
                url=str(data["url"]),
                created=parse_iso(data["created"]),
                expiration=parse_iso(data["expirationTime"]),
                redemptions_allowed=int(data["redemptionsAllowed"]),
                redemptions=int(data["redemptions"]),
                link_cost=int(data["linkCost"]),
                endpoints=tuple(
                    Endpoint(str(e["name"]), str(e["host"]), int(e["port"]))
                    for e in data["endpoints"]
                ),
                identities=tuple(IssuedIdentity.from_json(i) for i in data["identities"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise GrantFileError(f"not a grant record: {error}") from None


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: Any) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


# --- files ----------------------------------------------------------------------------------


def grant_path(grants_dir: Path, uid: str) -> Path | None:
    """Where grant `uid` lives; None if `uid` cannot be a grant (e.g. '../x')."""
    return grants_dir / f"{uid}.json" if _UID.match(uid) else None


def read_grant(path: Path) -> GrantRecord:
    try:
        return GrantRecord.from_json(json.loads(path.read_text()))
    except OSError as error:
        raise GrantFileError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise GrantFileError(f"{path}: not valid JSON: {error}") from None


def write_json_atomically(path: Path, data: Any) -> None:
    """Replace `path` at once, readable by the owner only (codes, keys)."""
    write_atomically(path, json.dumps(data, indent=2) + "\n", 0o600, folder_mode=0o700)


def write_grant(path: Path, record: GrantRecord) -> None:
    write_json_atomically(path, record.to_json())


def read_grants(grants_dir: Path) -> list[GrantRecord]:
    """Every readable grant in `grants_dir`, oldest first."""
    records = []
    for path in sorted(grants_dir.glob("*.json")):
        try:
            records.append(read_grant(path))
        except GrantFileError:
            continue  # a broken file must not hide the others
    return sorted(records, key=lambda r: (r.created, r.name))


# --- redeeming ------------------------------------------------------------------------------


def check_redemption(record: GrantRecord, code: str, now: datetime.datetime) -> None:
    """Raise GrantRefused unless `code` may redeem `record` now. The code is checked
    first, so that a caller without it learns nothing about the grant."""
    if not hmac.compare_digest(record.code.encode(), code.encode()):
        raise GrantRefused(403, "the token's code does not match its grant (altered token?)")
    if now >= record.expiration:
        raise GrantRefused(403, f"the token expired at {iso(record.expiration)}")
    if record.remaining <= 0:
        raise GrantRefused(
            403,
            f"the token was already redeemed {record.redemptions} of "
            f"{record.redemptions_allowed} times",
        )


def link_name_for(record: GrantRecord, requested: str) -> str:
    """The Link name asked for by the redeemer, or the grant's name."""
    name = requested.strip().lower() or record.name
    if not _NAME.match(name):
        raise GrantRefused(400, f"invalid link name {requested!r}")
    return name


def fingerprint(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class SigningCa:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    trust: bytes = b""  # the CAs a linking site trusts (PEM), if not this one alone

    @property
    def cert_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue_client(self, subject: str, now: datetime.datetime) -> certs.Credential:
        """A fresh TLS client certificate for ``subject``."""
        from skupper_podman import certs

        ca = certs.Credential(self.cert, self.key, self.cert)
        start = now - _CLOCK_SKEW
        return certs.issue_client_cert(ca, subject, validity=CLIENT_VALIDITY, not_before=start)

    @property
    def trust_pem(self) -> bytes:
        return self.trust or self.cert_pem

    @classmethod
    def load(cls, cert_file: str, key_file: str, trust_file: str = "") -> SigningCa:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        with open(cert_file, "rb") as cert_stream, open(key_file, "rb") as key_stream:
            cert = x509.load_pem_x509_certificate(cert_stream.read())
            key = serialization.load_pem_private_key(key_stream.read(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_file}: not an EC private key")
        trust = Path(trust_file).read_bytes() if trust_file else b""
        return cls(cert, key, trust)


@dataclass(frozen=True)
class Redemption:
    record: GrantRecord  # as written back, with the new identity
    identity: IssuedIdentity
    link_yaml: str


def redeem(
    grants_dir: Path,
    uid: str,
    code: str,
    *,
    requested_name: str,
    subject: str,
    load_ca: Callable[[], SigningCa],
    now: datetime.datetime,
) -> Redemption:
    """Check and use one redemption of grant `uid`; raise GrantRefused if refused.

    The file is rewritten before the credential is returned; the server runs this with
    no await in between, so two requests can never take the same last use."""
    path = grant_path(grants_dir, uid)
    if path is None or not path.exists():
        raise GrantRefused(404, "no such access grant (unknown or deleted token)")
    try:
        record = read_grant(path)
    except GrantFileError as error:
        raise GrantRefused(500, f"the grant cannot be read: {error}") from None
    check_redemption(record, code, now)
    link_name = link_name_for(record, requested_name)
    holder = subject.strip() or link_name
    ca = load_ca()  # only now: an unknown or refused grant needs no CA
    credential = ca.issue_client(holder, now)
    identity = IssuedIdentity(
        name=holder, link=link_name, fingerprint=fingerprint(credential.cert), issued=iso(now)
    )
    updated = dataclasses.replace(
        record,
        redemptions=record.redemptions + 1,
        identities=(*record.identities, identity),
    )
    write_grant(path, updated)
    return Redemption(updated, identity, _link_file(link_name, record, ca, credential))


# --- the answer: a Link and its Secret, Skupper v2 YAML ----------------------------------------


def _link_file(name: str, record: GrantRecord, ca: SigningCa, credential: certs.Credential) -> str:
    # imported here: pydantic costs the router memory and start time, and only a
    # redemption needs it
    from skupper_podman import certs, resources

    endpoints = [
        resources.Endpoint(name=e.name, host=e.host, port=e.port) for e in record.endpoints
    ]
    files = credential.files() | {certs.CA_FILE: ca.trust_pem}
    return resources.link_file(name, endpoints, record.link_cost, files)
