"""Certificates for a site, made with `cryptography`.

Each site has its own CA. It signs the router's server certificate (the inter-router
listener) and the client certificates handed out by `link generate`. A second, local CA
signs the pair used on the router's management listener (127.0.0.1), so a link client
certificate can never open a management connection.

A credential is stored as a folder named like the Skupper Secret it corresponds to, with
the Secret's keys as file names: `ca.crt`, `tls.crt`, `tls.key` (the key mode 0600).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from skupper_podman.errors import SkupperError

SITE_CA = "skupper-site-ca"
PREVIOUS_SITE_CA = "skupper-site-ca-previous"  # kept while a CA rotation runs
SITE_SERVER = "skupper-site-server"
LOCAL_CA = "skupper-local-ca"
LOCAL_SERVER = "skupper-local-server"
LOCAL_CLIENT = "skupper-local-client"

CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"

DEFAULT_VALIDITY = datetime.timedelta(days=5 * 365)
# Clocks of two hosts differ a little; a certificate made a moment ago must already work.
_CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class Credential:
    """A certificate, its private key and the CA certificate that signed it."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def files(self) -> dict[str, bytes]:
        """The Secret/folder form: ca.crt, tls.crt, tls.key."""
        return {CA_FILE: self.ca_pem(), CERT_FILE: self.cert_pem(), KEY_FILE: self.key_pem()}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def new_ca(common_name: str, *, validity: datetime.timedelta = DEFAULT_VALIDITY) -> Credential:
    """A self-signed CA."""
    key = _new_key()
    start = _now() - _CLOCK_SKEW
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credential(cert=cert, key=key, ca_cert=cert)


def subject_alternative_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """SAN entries for host names and IPs; each IP is also a DNS entry because Proton
    matches a peer given as an IP against the DNS entries."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h for h in hosts if h):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            names.append(x509.DNSName(host))
            continue
        names.append(x509.IPAddress(address))
        names.append(x509.DNSName(host))
    return names


def _issue(
    ca: Credential,
    common_name: str,
    usage: x509.ObjectIdentifier | list[x509.ObjectIdentifier],
    hosts: Iterable[str],
    validity: datetime.timedelta,
    not_before: datetime.datetime | None,
) -> Credential:
    key = _new_key()
    start = not_before or (_now() - _CLOCK_SKEW)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(usage if isinstance(usage, list) else [usage]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    sans = subject_alternative_names(hosts)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return Credential(cert=builder.sign(ca.key, hashes.SHA256()), key=key, ca_cert=ca.cert)


def issue_server_cert(
    ca: Credential,
    common_name: str,
    hosts: Iterable[str],
    *,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
    not_before: datetime.datetime | None = None,
) -> Credential:
    """A TLS server certificate for `hosts` (names and IPs) signed by `ca`."""
    return _issue(ca, common_name, ExtendedKeyUsageOID.SERVER_AUTH, hosts, validity, not_before)


def issue_client_cert(
    ca: Credential,
    common_name: str,
    *,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
    not_before: datetime.datetime | None = None,
) -> Credential:
    """A TLS client certificate signed by `ca` (`not_before` lets tests make expired ones)."""
    return _issue(ca, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, (), validity, not_before)


def issue_cert(
    ca: Credential,
    common_name: str,
    hosts: Iterable[str],
    *,
    client: bool,
    server: bool,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> Credential:
    """A certificate for a server, a client or both (a Skupper Certificate), by `ca`."""
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
    usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    return _issue(ca, common_name, usages, hosts, validity, None)


def write_credential(folder: Path, files: dict[str, bytes]) -> None:
    """Write ca.crt / tls.crt / tls.key into `folder`; the key is created 0600. Each file
    is replaced whole (a running router reading it sees the old one or the new one)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for file_name, content in files.items():
        path = folder / file_name
        mode = 0o600 if file_name == KEY_FILE else 0o644
        staging = folder / f".{file_name}.new"
        # Open with the final mode so the key is never readable by others, not even briefly.
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
        os.chmod(staging, mode)
        os.replace(staging, path)


def read_credential(folder: Path) -> Credential:
    """Load a credential written by `write_credential`."""
    try:
        cert = x509.load_pem_x509_certificate((folder / CERT_FILE).read_bytes())
        ca_path = folder / CA_FILE
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes()) if ca_path.exists() else cert
        key = serialization.load_pem_private_key((folder / KEY_FILE).read_bytes(), None)
    except (OSError, ValueError) as error:
        raise SkupperError(f"cannot read the credential in {folder}: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SkupperError(f"unsupported key type in {folder}")
    return Credential(cert=cert, key=key, ca_cert=ca_cert)


def _load_cert(pem: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise SkupperError(f"{what} is not a valid PEM certificate") from None


def _check_validity(cert: x509.Certificate, what: str, now: datetime.datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise SkupperError(
            f"{what} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    if now > cert.not_valid_after_utc:
        raise SkupperError(f"{what} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")


def verify_client_credential(
    ca_pem: bytes, cert_pem: bytes, key_pem: bytes, *, now: datetime.datetime | None = None
) -> None:
    """Refuse a link credential early: the certificate must be signed by the included CA,
    be valid now, and match the included private key. Raises SkupperError saying why."""
    _verify_credential(ca_pem, cert_pem, key_pem, "client", now or _now())


def check_server_credential(
    ca_pem: bytes, cert_pem: bytes, key_pem: bytes, *, now: datetime.datetime | None = None
) -> None:
    """The same checks for a server certificate a user brings (their own CA's)."""
    _verify_credential(ca_pem, cert_pem, key_pem, "server", now or _now())


def _issuer_in(cert: x509.Certificate, cas: list[x509.Certificate]) -> x509.Certificate | None:
    for ca_cert in cas:
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return ca_cert
    return None


def _verify_credential(
    ca_pem: bytes, cert_pem: bytes, key_pem: bytes, role: str, moment: datetime.datetime
) -> None:
    # ca.crt may hold several CAs (a site rotating its CA trusts the old and the new one).
    try:
        cas = x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        raise SkupperError("the CA certificate (ca.crt) is not a valid PEM certificate") from None
    cert = _load_cert(cert_pem, f"the {role} certificate (tls.crt)")
    ca_cert = _issuer_in(cert, cas)
    if ca_cert is None:
        raise SkupperError(
            f"the {role} certificate (tls.crt) is not signed by the included CA (ca.crt): "
            "the file was altered or mixes certificates of different sites"
        )
    _check_validity(ca_cert, "the CA certificate (ca.crt)", moment)
    _check_validity(cert, f"the {role} certificate (tls.crt)", moment)
    try:
        key = serialization.load_pem_private_key(key_pem, None)
    except (ValueError, TypeError):
        raise SkupperError("the private key (tls.key) is not a valid unencrypted PEM key") from None
    if key.public_key() != cert.public_key():
        raise SkupperError(f"the private key (tls.key) does not belong to the {role} certificate")


def same_certificate(first_pem: bytes, second: x509.Certificate) -> bool:
    """Whether a PEM certificate is `second` (compared by public key and subject)."""
    first = _load_cert(first_pem, "certificate")
    return first.public_key() == second.public_key() and first.subject == second.subject
