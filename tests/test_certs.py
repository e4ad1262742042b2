"""Certificates: SANs as Proton needs them, 0600 keys, and link credentials refused early."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509

from skupper_podman import certs
from skupper_podman.errors import SkupperError


def test_server_cert_has_each_ip_also_as_dns_name() -> None:
    ca = certs.new_ca("site CA")
    server = certs.issue_server_cert(ca, "east", ["east.example.com", "10.0.0.5", "::1"])
    sans = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["east.example.com", "10.0.0.5", "::1"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("::1"),
    ]
    server.cert.verify_directly_issued_by(ca.cert)


def test_credential_files_and_key_mode(tmp_path: Path) -> None:
    ca = certs.new_ca("site CA")
    client = certs.issue_client_cert(ca, "link-east")
    folder = tmp_path / "link-east"
    certs.write_credential(folder, client.files())
    assert sorted(p.name for p in folder.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    assert stat.S_IMODE((folder / "tls.key").stat().st_mode) == 0o600
    loaded = certs.read_credential(folder)
    assert loaded.cert == client.cert and loaded.ca_cert == ca.cert


def test_a_valid_client_credential_passes() -> None:
    ca = certs.new_ca("site CA")
    client = certs.issue_client_cert(ca, "link")
    certs.verify_client_credential(ca.cert_pem(), client.cert_pem(), client.key_pem())


def test_client_cert_from_another_ca_is_refused() -> None:
    ca, other = certs.new_ca("site CA"), certs.new_ca("other CA")
    foreign = certs.issue_client_cert(other, "link")
    with pytest.raises(SkupperError, match="not signed by the included CA"):
        certs.verify_client_credential(ca.cert_pem(), foreign.cert_pem(), foreign.key_pem())


def test_expired_client_cert_is_refused() -> None:
    ca = certs.new_ca("site CA")
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    expired = certs.issue_client_cert(
        ca, "link", not_before=long_ago, validity=datetime.timedelta(days=1)
    )
    with pytest.raises(SkupperError, match=r"client certificate .* expired on"):
        certs.verify_client_credential(ca.cert_pem(), expired.cert_pem(), expired.key_pem())


def test_key_of_another_certificate_is_refused() -> None:
    ca = certs.new_ca("site CA")
    first, second = certs.issue_client_cert(ca, "a"), certs.issue_client_cert(ca, "b")
    with pytest.raises(SkupperError, match="does not belong to the client certificate"):
        certs.verify_client_credential(ca.cert_pem(), first.cert_pem(), second.key_pem())


def test_garbage_pem_is_refused() -> None:
    ca = certs.new_ca("site CA")
    with pytest.raises(SkupperError, match=r"client certificate .* not a valid PEM"):
        certs.verify_client_credential(ca.cert_pem(), b"junk", b"junk")
