"""TLS between the router and applications (``router/service_tls.py``), with real peers:
``openssl s_server`` as a TLS backend, ``curl`` and Python's ssl as TLS clients.

Two routers: the first has the tcpListener, the second the tcpConnector.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from skupper_podman import certs
from tests.ports import free_port
from tests.routernet import Router, RouterNet, wait_listening
from tests.tls_peers import (
    LOCAL_HOSTS,
    SServer,
    credential_folder,
    curl,
    http_backend,
    reversed_line,
)

__all__ = ["http_backend"]  # a fixture


@dataclass
class Pair:
    front: Router  # the tcpListener
    back: Router  # the tcpConnector
    port: int


def profile(router: Router, name: str, folder: Path, *, with_cert: bool = True) -> None:
    attributes = {"name": name, "caCertFile": str(folder / certs.CA_FILE)}
    if with_cert:
        attributes |= {
            "certFile": str(folder / certs.CERT_FILE),
            "privateKeyFile": str(folder / certs.KEY_FILE),
        }
    router.add("sslProfile", **attributes)


def build(
    net: RouterNet,
    backend_port: int,
    *,
    listener: dict[str, object] | None = None,
    connector: dict[str, object] | None = None,
) -> Pair:
    front = net.router("front", link_access=True, management=True)
    back = net.router("back", management=True)
    net.link(back, front)
    back.add(
        "tcpConnector",
        name="svc-connector",
        host="127.0.0.1",
        port=backend_port,
        address="svc",
        **(connector or {}),
    )
    port = free_port()
    front.add(
        "tcpListener",
        name="svc-listener",
        host="127.0.0.1",
        port=port,
        address="svc",
        **(listener or {}),
    )
    return Pair(front, back, port)


def start(net: RouterNet, pair: Pair) -> None:
    net.start()
    net.wait_routes()
    wait_listening(pair.port, timeout=30)


def connector_row(pair: Pair) -> dict[str, object]:
    return next(r for r in pair.back.query("tcpConnector") if r["name"] == "svc-connector")


def listener_row(pair: Pair) -> dict[str, object]:
    return next(r for r in pair.front.query("tcpListener") if r["name"] == "svc-listener")


# --- the listener terminates TLS ------------------------------------------------------------


def test_listener_terminates_tls_for_curl(
    net: RouterNet, tmp_path: Path, http_backend: int
) -> None:
    ca = certs.new_ca("service-ca")
    server = credential_folder(tmp_path / "server", certs.issue_server_cert(ca, "svc", LOCAL_HOSTS))
    pair = build(net, http_backend, listener={"sslProfile": "svc-tls"})
    profile(pair.front, "svc-tls", server)
    start(net, pair)
    for _ in range(3):
        result = curl(pair.port, server / certs.CA_FILE)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "hello over the network\n"
    # plaintext to a TLS listener is refused, and said so
    with socket.create_connection(("127.0.0.1", pair.port), timeout=10) as plain:
        plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert plain.recv(100) == b""
    row = listener_row(pair)
    assert row["connectionsFailed"] == 1
    assert "http request" in str(row["connectionMsg"]) or "wrong version" in str(
        row["connectionMsg"]
    ), row
    assert "client refused" in pair.front.log


def test_listener_asks_for_client_certificates_when_required(
    net: RouterNet, tmp_path: Path, http_backend: int
) -> None:
    ca = certs.new_ca("service-ca")
    server = credential_folder(tmp_path / "server", certs.issue_server_cert(ca, "svc", LOCAL_HOSTS))
    client = credential_folder(tmp_path / "client", certs.issue_client_cert(ca, "app"))
    stranger_ca = certs.new_ca("other-ca")
    stranger = credential_folder(tmp_path / "stranger", certs.issue_client_cert(stranger_ca, "x"))
    pair = build(net, http_backend, listener={"sslProfile": "svc-tls", "authenticatePeer": True})
    profile(pair.front, "svc-tls", server)
    start(net, pair)
    ca_file = server / certs.CA_FILE
    with_cert = ("--cert", str(client / certs.CERT_FILE), "--key", str(client / certs.KEY_FILE))
    accepted = curl(pair.port, ca_file, *with_cert)
    assert accepted.stdout == "hello over the network\n", accepted.stderr
    assert curl(pair.port, ca_file).returncode != 0  # no certificate
    foreign = ("--cert", str(stranger / certs.CERT_FILE), "--key", str(stranger / certs.KEY_FILE))
    assert curl(pair.port, ca_file, *foreign).returncode != 0
    row = listener_row(pair)
    assert row["connectionsFailed"] == 2, row
    assert "certificate" in str(row["connectionMsg"]), row


def test_a_certificate_replaced_on_disk_serves_the_next_client(
    net: RouterNet, tmp_path: Path, http_backend: int
) -> None:
    ca = certs.new_ca("service-ca")
    server = credential_folder(tmp_path / "server", certs.issue_server_cert(ca, "old", LOCAL_HOSTS))
    pair = build(net, http_backend, listener={"sslProfile": "svc-tls"})
    profile(pair.front, "svc-tls", server)
    start(net, pair)
    assert _served_common_name(pair.port, server) == "old"
    pid = pair.front.process.pid if pair.front.process else 0
    certs.write_credential(server, certs.issue_server_cert(ca, "new", LOCAL_HOSTS).files())
    assert _served_common_name(pair.port, server) == "new"
    assert pair.front.process is not None and pair.front.process.pid == pid  # no restart


def _served_common_name(port: int, folder: Path) -> str:
    context = ssl.create_default_context(cafile=str(folder / certs.CA_FILE))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        subject = x509.load_der_x509_certificate(der).subject
        return str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


# --- the connector speaks TLS to the backend ------------------------------------------------


def test_connector_speaks_tls_to_openssl_s_server(net: RouterNet, tmp_path: Path) -> None:
    ca = certs.new_ca("backend-ca")
    backend_folder = credential_folder(
        tmp_path / "backend", certs.issue_server_cert(ca, "db", LOCAL_HOSTS)
    )
    backend = SServer(backend_folder)
    trust = credential_folder(tmp_path / "trust", certs.issue_client_cert(ca, "router"))
    pair = build(net, backend.port, connector={"sslProfile": "backend-ca"})
    profile(pair.back, "backend-ca", trust, with_cert=False)
    start(net, pair)
    try:
        assert reversed_line(pair.port) == b"slt olleh\n"
    finally:
        backend.close()
    assert connector_row(pair)["connectionsFailed"] == 0


def test_connector_presents_its_client_certificate(net: RouterNet, tmp_path: Path) -> None:
    ca = certs.new_ca("backend-ca")
    backend_folder = credential_folder(
        tmp_path / "backend", certs.issue_server_cert(ca, "db", LOCAL_HOSTS)
    )
    backend = SServer(backend_folder, client_ca=backend_folder / certs.CA_FILE)
    client = credential_folder(tmp_path / "client", certs.issue_client_cert(ca, "router"))
    pair = build(net, backend.port, connector={"sslProfile": "client-tls"})
    profile(pair.back, "client-tls", client)
    start(net, pair)
    try:
        assert reversed_line(pair.port) == b"slt olleh\n"
    finally:
        output = backend.close()
    assert "CN=router" in output or "CN = router" in output, output


@pytest.mark.parametrize(
    "case, expected",
    [
        ("wrong-ca", "unable to get local issuer certificate"),
        ("expired", "certificate has expired"),
        ("wrong-host", "mismatch, certificate is not valid for"),
    ],
)
def test_connector_refuses_a_backend_it_cannot_trust(
    net: RouterNet, tmp_path: Path, case: str, expected: str
) -> None:
    trusted, other = certs.new_ca("trusted-ca"), certs.new_ca("other-ca")
    if case == "wrong-ca":
        backend_cert = certs.issue_server_cert(other, "db", LOCAL_HOSTS)
    elif case == "expired":
        long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
        backend_cert = certs.issue_server_cert(
            trusted, "db", LOCAL_HOSTS, validity=datetime.timedelta(days=1), not_before=long_ago
        )
    else:
        backend_cert = certs.issue_server_cert(trusted, "db", ["db.example.org"])
    backend = SServer(credential_folder(tmp_path / "backend", backend_cert))
    trust = credential_folder(tmp_path / "trust", certs.issue_client_cert(trusted, "router"))
    pair = build(net, backend.port, connector={"sslProfile": "backend-ca"})
    profile(pair.back, "backend-ca", trust, with_cert=False)
    start(net, pair)
    try:
        started = time.monotonic()
        assert reversed_line(pair.port) == b""  # closed: nothing reached the backend
        assert time.monotonic() - started < 5
    finally:
        backend.close()
    row = connector_row(pair)
    assert row["connectionsFailed"] == 1
    assert expected in str(row["connectionMsg"]), row
    assert expected in pair.back.log
    scraped = pair.back.query("tcpConnector")
    assert scraped


def test_connector_without_hostname_check_accepts_another_name(
    net: RouterNet, tmp_path: Path
) -> None:
    ca = certs.new_ca("backend-ca")
    backend = SServer(
        credential_folder(tmp_path / "backend", certs.issue_server_cert(ca, "db", ["db.example"]))
    )
    trust = credential_folder(tmp_path / "trust", certs.issue_client_cert(ca, "router"))
    pair = build(net, backend.port, connector={"sslProfile": "ca", "verifyHostname": False})
    profile(pair.back, "ca", trust, with_cert=False)
    start(net, pair)
    try:
        assert reversed_line(pair.port) == b"slt olleh\n"
    finally:
        backend.close()
