"""TLS between the router and applications: a tcpListener's clients, a tcpConnector's backend.

One ``ssl.SSLContext`` per use of an sslProfile, kept while its files stay the same and
rebuilt when one changes on disk (a rotated certificate is used by the next flow, with no
restart). The driver asks for a context on every accept and dial; the cost is a few
``stat`` calls. Inter-router links use proton's TLS instead (``engine.py``).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from .config import SslProfile

HANDSHAKE_TIMEOUT = 10.0  # seconds a client or backend may take to finish its handshake


@dataclass(frozen=True, slots=True)
class ServiceTls:
    """What a Listen or OpenTcp command needs to speak TLS: the profile and its use."""

    profile: SslProfile
    # listener: require a client certificate; connector: check the backend's host name
    strict: bool = False


class TlsError(Exception):
    """A profile whose files cannot make a context (missing, unreadable, not matching)."""


Signature = tuple[tuple[str, int, int], ...]


class ServiceTlsContexts:
    """Contexts by (profile, side), rebuilt when the profile's files change."""

    def __init__(self) -> None:
        self._cache: dict[tuple[ServiceTls, bool], tuple[Signature, ssl.SSLContext]] = {}

    def server(self, tls: ServiceTls) -> ssl.SSLContext:
        return self._get(tls, server=True)

    def client(self, tls: ServiceTls) -> ssl.SSLContext:
        return self._get(tls, server=False)

    def _get(self, tls: ServiceTls, *, server: bool) -> ssl.SSLContext:
        signature = profile_signature(tls.profile)
        cached = self._cache.get((tls, server))
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            context = _server_context(tls) if server else _client_context(tls)
        except TlsError:
            if cached is None:
                raise
            # Caught between two files of a rotation (a new certificate, the old key):
            # the last good context serves until the files agree again.
            return cached[1]
        self._cache[(tls, server)] = (signature, context)
        return context


def profile_signature(profile: SslProfile) -> Signature:
    """What changes when one of the profile's files does: path, mtime and size of each."""
    files = []
    for path in (profile.caCertFile, profile.certFile, profile.privateKeyFile):
        if not path:
            continue
        try:
            status = os.stat(path)
        except OSError:
            files.append((path, -1, -1))
        else:
            files.append((path, status.st_mtime_ns, status.st_size))
    return tuple(files)


def _server_context(tls: ServiceTls) -> ssl.SSLContext:
    profile = tls.profile
    if not (profile.certFile and profile.privateKeyFile):
        raise TlsError(
            f"sslProfile {profile.name}: a TLS listener needs certFile and privateKeyFile"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_certificate(context, profile)
    if profile.caCertFile and Path(profile.caCertFile).exists():
        _load_ca(context, profile)
        context.verify_mode = ssl.CERT_REQUIRED if tls.strict else ssl.CERT_OPTIONAL
    elif tls.strict:
        raise TlsError(
            f"sslProfile {profile.name}: client certificates are required but it has no "
            f"CA file ({profile.caCertFile or 'caCertFile not set'})"
        )
    return context


def _client_context(tls: ServiceTls) -> ssl.SSLContext:
    profile = tls.profile
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = tls.strict
    context.verify_mode = ssl.CERT_REQUIRED
    if profile.caCertFile and Path(profile.caCertFile).exists():
        _load_ca(context, profile)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if profile.certFile and profile.privateKeyFile:
        _load_certificate(context, profile)
    return context


def _load_certificate(context: ssl.SSLContext, profile: SslProfile) -> None:
    try:
        context.load_cert_chain(
            profile.certFile, profile.privateKeyFile, password=profile.password or None
        )
    except (OSError, ssl.SSLError) as error:
        raise TlsError(
            f"sslProfile {profile.name}: cannot load {profile.certFile} with its key: "
            f"{describe(error)}"
        ) from None


def _load_ca(context: ssl.SSLContext, profile: SslProfile) -> None:
    try:
        context.load_verify_locations(cafile=profile.caCertFile)
    except (OSError, ssl.SSLError) as error:
        raise TlsError(
            f"sslProfile {profile.name}: cannot load CA {profile.caCertFile}: {describe(error)}"
        ) from None


def describe(error: BaseException) -> str:
    """One line for a TLS failure: the verification reason when there is one."""
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.replace("_", " ").lower()
    if isinstance(error, TimeoutError):
        return f"TLS handshake not done in {HANDSHAKE_TIMEOUT:.0f}s"
    return str(error) or type(error).__name__
