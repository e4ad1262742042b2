"""proton's engine of one connection (``router/engine.py``): its TLS domains."""

from __future__ import annotations

import os
from pathlib import Path

from skupper_podman import certs
from skupper_podman.router.config import SslProfile
from skupper_podman.router.engine import TlsDomains, TlsSettings


def _profile(folder: Path, ca: certs.Credential) -> SslProfile:
    certs.write_credential(folder, certs.issue_server_cert(ca, "router", ["127.0.0.1"]).files())
    return SslProfile(
        "site", str(folder / "ca.crt"), str(folder / "tls.crt"), str(folder / "tls.key")
    )


def test_a_domain_is_made_once_per_use_and_again_when_its_files_change(tmp_path: Path) -> None:
    ca = certs.new_ca("test-ca")
    settings = TlsSettings(_profile(tmp_path, ca))
    domains = TlsDomains()
    first = domains.get(settings, server=True)
    assert domains.get(settings, server=True) is first  # no file read again
    assert domains.get(settings, server=False) is not first  # the other side is its own
    stat = os.stat(tmp_path / "tls.crt")
    _profile(tmp_path, ca)  # a renewed certificate in the same files
    os.utime(tmp_path / "tls.crt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert domains.get(settings, server=True) is not first
