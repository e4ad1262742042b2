"""Link files that must not be trusted are refused at `link create`, before anything is
written: a tampered certificate, a certificate from another site's CA, an expired one.
A link whose server no longer trusts it shows as down, with the reason, in `link status`.
"""

from __future__ import annotations

import base64
import datetime
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from skupper_podman import certs
from tests.cli_helpers import (
    fails,
    files_under,
    init_linkable_site,
    namespace_folder,
    ok,
    status_json,
)


@pytest.fixture
def sites(router_available: None) -> tuple[str, str]:
    init_linkable_site("east")
    ok("site", "init", "west", "-n", "west")
    return "east", "west"


def generated(namespace: str) -> list[dict[str, Any]]:
    text = ok("link", "generate", "--host", "127.0.0.1", "-n", namespace).stdout
    return list(yaml.safe_load_all(text))


def with_secret_files(documents: list[dict[str, Any]], **files: bytes) -> str:
    """The link file with some Secret entries (ca_crt=..., tls_crt=...) replaced."""
    link, secret = documents
    for key, value in files.items():
        secret["data"][key.replace("_", ".")] = base64.b64encode(value).decode()
    return yaml.safe_dump_all([link, secret])


def secret_file(documents: list[dict[str, Any]], key: str) -> bytes:
    return base64.b64decode(documents[1]["data"][key])


def refused(west: str, home: Path, tmp_path: Path, content: str) -> str:
    before = files_under(namespace_folder(home, west))
    link_file = tmp_path / "link.yaml"
    link_file.write_text(content)
    message = fails("link", "create", str(link_file), "-n", west)
    assert files_under(namespace_folder(home, west)) == before
    return message


def test_tampered_certificate_is_refused(
    sites: tuple[str, str], skupper_home: Path, tmp_path: Path
) -> None:
    east, west = sites
    documents = generated(east)
    der = bytearray(
        x509.load_pem_x509_certificate(secret_file(documents, "tls.crt")).public_bytes(
            serialization.Encoding.DER
        )
    )
    der[-5] ^= 0x01  # inside the signature: the structure parses, the signature fails
    tampered = x509.load_der_x509_certificate(bytes(der)).public_bytes(serialization.Encoding.PEM)
    message = refused(west, skupper_home, tmp_path, with_secret_files(documents, tls_crt=tampered))
    assert "link refused: the client certificate (tls.crt) is not signed by the included CA" in (
        message
    )


def test_certificate_from_another_sites_ca_is_refused(
    sites: tuple[str, str], skupper_home: Path, tmp_path: Path
) -> None:
    east, west = sites
    init_linkable_site("north")
    from_east, from_north = generated(east), generated("north")
    mixed = with_secret_files(from_east, ca_crt=secret_file(from_north, "ca.crt"))
    message = refused(west, skupper_home, tmp_path, mixed)
    assert "is not signed by the included CA (ca.crt)" in message


def test_expired_certificate_is_refused(
    sites: tuple[str, str], skupper_home: Path, tmp_path: Path
) -> None:
    east, west = sites
    east_ca = certs.read_credential(namespace_folder(skupper_home, east) / "certs" / certs.SITE_CA)
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)
    expired = certs.issue_client_cert(
        east_ca, "link-east", not_before=long_ago, validity=datetime.timedelta(days=1)
    )
    content = with_secret_files(
        generated(east), tls_crt=expired.cert_pem(), tls_key=expired.key_pem()
    )
    message = refused(west, skupper_home, tmp_path, content)
    assert "link refused: the client certificate (tls.crt) expired on" in message


def test_link_to_a_site_that_no_longer_trusts_it_is_down_with_a_reason(
    sites: tuple[str, str], tmp_path: Path
) -> None:
    east, west = sites
    port = int(status_json("site", "status", "-n", east)["linkAccessPort"])
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", east).stdout)
    # East is made again: same port, new CA; the link file's certificates are now foreign.
    ok("site", "delete", "-n", east)
    init_linkable_site(east, port)
    ok("link", "create", str(link_file), "-n", west)
    deadline = time.monotonic() + 10
    while True:
        (link,) = status_json("link", "status", "-n", west)
        if link["message"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # The router retries, so the status moves between FAILED and CONNECTING; the reason
    # of the last failure stays.
    assert link["up"] is False
    assert link["status"] in ("FAILED", "CONNECTING"), link
    assert link["message"], link
    print(link["message"])


def _refused(port: int, use_tls: bool) -> bool:
    """Whether the inter-router port closes on a client without a certificate before
    any AMQP or SASL exchange."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=2)
    received = b""
    try:
        stream: socket.socket = raw
        if use_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            stream = context.wrap_socket(raw, server_hostname="127.0.0.1")
        stream.sendall(b"AMQP\x03\x01\x00\x00")  # the SASL protocol header
        while chunk := stream.recv(4096):
            received += chunk
    except TimeoutError:
        return False  # still open: not refused
    except (OSError, ssl.SSLError):
        pass  # reset or TLS alert: refused
    finally:
        raw.close()
    return b"AMQP" not in received


def test_inter_router_port_refuses_a_tls_client_without_a_certificate(
    sites: tuple[str, str],
) -> None:
    port = status_json("site", "status", "-n", sites[0])["linkAccessPort"]
    assert _refused(port, use_tls=True)


def test_inter_router_port_refuses_a_plain_tcp_client(sites: tuple[str, str]) -> None:
    port = status_json("site", "status", "-n", sites[0])["linkAccessPort"]
    assert _refused(port, use_tls=False)
