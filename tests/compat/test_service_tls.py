"""Listener and Connector ``spec.tlsCredentials`` on a running site (linux platform), from
the CLI and from Skupper YAML, with real TLS peers (curl, openssl s_server)."""

from __future__ import annotations

import base64
import subprocess
import urllib.request
from pathlib import Path

import pytest

from skupper_podman import certs
from tests.cli_helpers import fails, files_under, namespace_folder, ok, status_json
from tests.ports import free_port
from tests.routernet import wait_listening
from tests.tls_peers import (
    LOCAL_HOSTS,
    SServer,
    credential_folder,
    curl,
    http_backend,
    reversed_line,
)

__all__ = ["http_backend"]  # a fixture


@pytest.fixture
def west(router_available: None) -> str:
    ok("site", "init", "west", "-n", "west")
    return "west"


def _apply(text: str, tmp_path: Path, name: str = "resources.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return ok("apply", "-f", str(path), "-n", "west").stdout


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_listener_with_credentials_made_by_the_site(
    west: str, skupper_home: Path, http_backend: int
) -> None:
    port = free_port()
    ok("connector", "create", "web", str(http_backend), "--routing-key", "web",
       "--host", "127.0.0.1", "-n", west)  # fmt: skip
    said = ok("listener", "create", "web", str(port), "--routing-key", "web",
              "--tls-credentials", "web-tls", "-n", west).stdout  # fmt: skip
    assert "(TLS, web-tls)" in said
    wait_listening(port)
    folder = namespace_folder(skupper_home, west) / "certs"
    service_ca = folder / "skupper-service-ca" / certs.CA_FILE
    assert (folder / "web-tls" / certs.CA_FILE).read_bytes() == service_ca.read_bytes()
    result = curl(port, service_ca)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello over the network\n"
    plain = subprocess.run(
        ["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert plain.returncode != 0
    reported = status_json("listener", "status", "web", "-n", west)[0]
    assert reported["connectionsFailed"] == 1
    assert reported["lastError"], reported


def test_connector_to_a_tls_backend_from_skupper_yaml(west: str, tmp_path: Path) -> None:
    ca = certs.new_ca("backend-ca")
    backend_folder = credential_folder(
        tmp_path / "backend", certs.issue_server_cert(ca, "db", LOCAL_HOSTS)
    )
    client = certs.issue_client_cert(ca, "router")
    backend = SServer(backend_folder, client_ca=backend_folder / certs.CA_FILE)
    port = free_port()
    said = _apply(
        f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db-client
type: kubernetes.io/tls
data:
  ca.crt: {_b64(ca.cert_pem())}
  tls.crt: {_b64(client.cert_pem())}
  tls.key: {_b64(client.key_pem())}
---
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: db
spec:
  routingKey: db
  host: localhost
  port: {backend.port}
  tlsCredentials: db-client
  useClientCert: true
---
apiVersion: skupper.io/v2alpha1
kind: Listener
metadata:
  name: db
spec:
  routingKey: db
  host: 127.0.0.1
  port: {port}
""",
        tmp_path,
    )
    assert "Secret db-client" in said
    wait_listening(port)
    try:
        assert reversed_line(port) == b"slt olleh\n"
    finally:
        output = backend.close()
    assert "router" in output


def test_connector_credentials_from_a_folder(west: str, tmp_path: Path) -> None:
    ca = certs.new_ca("backend-ca")
    backend = SServer(
        credential_folder(tmp_path / "backend", certs.issue_server_cert(ca, "db", LOCAL_HOSTS))
    )
    trust = tmp_path / "Backend CA"
    trust.mkdir()
    (trust / certs.CA_FILE).write_bytes(ca.cert_pem())
    port = free_port()
    said = ok("connector", "create", "db", str(backend.port), "--routing-key", "db",
              "--host", "127.0.0.1", "--tls-credentials", str(trust),
              "-n", west).stdout  # fmt: skip
    assert "(TLS, backend-ca)" in said
    ok("listener", "create", "db", str(port), "--routing-key", "db", "-n", west)
    wait_listening(port)
    try:
        assert reversed_line(port) == b"slt olleh\n"
    finally:
        backend.close()


def test_a_backend_of_another_ca_is_refused_and_said_so(
    west: str, tmp_path: Path, skupper_home: Path
) -> None:
    trusted, other = certs.new_ca("trusted"), certs.new_ca("other")
    backend = SServer(
        credential_folder(tmp_path / "backend", certs.issue_server_cert(other, "db", LOCAL_HOSTS))
    )
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / certs.CA_FILE).write_bytes(trusted.cert_pem())
    port = free_port()
    ok("connector", "create", "db", str(backend.port), "--routing-key", "db",
       "--host", "127.0.0.1", "--tls-credentials", str(trust), "-n", west)  # fmt: skip
    ok("listener", "create", "db", str(port), "--routing-key", "db", "-n", west)
    wait_listening(port)
    try:
        assert reversed_line(port) == b""
    finally:
        backend.close()
    reported = status_json("connector", "status", "db", "-n", west)[0]
    assert reported["connectionsFailed"] == 1
    assert "unable to get local issuer certificate" in reported["lastError"]
    site = status_json("site", "status", "-n", west)
    assert any(
        e.startswith("connector db: ") and "unable to get local issuer" in e
        for e in site["serviceErrors"]
    ), site
    metrics_url = site["metrics"]
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        scraped = response.read().decode()
    assert 'skupper_router_tcp_connector_connections_failed_total{router="west",' in scraped
    failed = [
        line
        for line in scraped.splitlines()
        if line.startswith("skupper_router_tcp_connector_connections_failed_total{")
    ]
    assert failed and failed[0].endswith(" 1"), failed
    log = (namespace_folder(skupper_home, west) / "runtime" / "router.log").read_text()
    assert "unable to get local issuer certificate" in log


def test_bad_tls_input_is_refused_and_leaves_nothing(
    west: str, tmp_path: Path, skupper_home: Path
) -> None:
    before = files_under(namespace_folder(skupper_home, west))
    assert fails("connector", "create", "db", "5432", "--routing-key", "db", "--host", "h",
                 "--use-client-cert", "-n", west) == (
        "--use-client-cert and --no-verify-hostname need --tls-credentials"
    )  # fmt: skip
    missing = fails("connector", "create", "db", "5432", "--routing-key", "db", "--host", "h",
                    "--tls-credentials", "nosuch", "-n", west)  # fmt: skip
    assert "no Secret or credential folder named nosuch" in missing
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no ca.crt, tls.crt or tls.key" in fails(
        "connector", "create", "db", "5432", "--routing-key", "db", "--host", "h",
        "--tls-credentials", str(empty), "-n", west,
    )  # fmt: skip
    only_ca = tmp_path / "only-ca"
    only_ca.mkdir()
    (only_ca / certs.CA_FILE).write_bytes(certs.new_ca("x").cert_pem())
    assert "only-ca lacks tls.crt, tls.key" in fails(
        "connector", "create", "db", "5432", "--routing-key", "db", "--host", "h",
        "--tls-credentials", str(only_ca), "--use-client-cert", "-n", west,
    )  # fmt: skip
    assert "is reserved for the site" in fails(
        "listener", "create", "web", str(free_port()), "--routing-key", "web",
        "--tls-credentials", "skupper-site-ca", "-n", west,
    )  # fmt: skip
    assert files_under(namespace_folder(skupper_home, west)) == before
