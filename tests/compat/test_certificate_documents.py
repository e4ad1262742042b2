"""Certificate and SecuredAccess documents (``site/certificate_documents.py``): the site
issues them, a listener serves curl with one, applying again re-issues nothing."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from skupper_podman import certs
from tests.cli_helpers import fails, namespace_folder, ok
from tests.ports import free_port
from tests.routernet import wait_listening
from tests.tls_peers import curl, http_backend

__all__ = ["http_backend"]  # a fixture

FILE = """\
apiVersion: skupper.io/v2alpha1
kind: Certificate
metadata:
  name: team-ca
spec:
  subject: Team CA
  signing: true
---
apiVersion: skupper.io/v2alpha1
kind: Certificate
metadata:
  name: web-cert
spec:
  ca: team-ca
  subject: web
  hosts: [localhost, 127.0.0.1]
  server: true
---
apiVersion: skupper.io/v2alpha1
kind: Listener
metadata:
  name: web
spec:
  routingKey: web
  host: 127.0.0.1
  port: {port}
  tlsCredentials: web-cert
---
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: web
spec:
  routingKey: web
  host: 127.0.0.1
  port: {backend}
---
apiVersion: skupper.io/v2alpha1
kind: SecuredAccess
metadata:
  name: console
spec:
  selector:
    app: console
  ports:
  - name: https
    port: 8443
"""


def _subject(path: Path) -> str:
    return x509.load_pem_x509_certificate(path.read_bytes()).subject.rfc4514_string()


def test_certificates_issued_and_served(
    router_available: None, tmp_path: Path, skupper_home: Path, http_backend: int
) -> None:
    ok("site", "init", "west", "-n", "west")
    port = free_port()
    path = tmp_path / "certs.yaml"
    path.write_text(FILE.format(port=port, backend=http_backend))
    applied = ok("apply", "-f", str(path), "-n", "west")
    assert "Certificate team-ca created" in applied.stdout
    assert "SecuredAccess console created" in applied.stdout
    assert "spec.selector: Kubernetes only, kept but unused" in applied.stderr
    folder = namespace_folder(skupper_home, "west") / "certs"
    assert _subject(folder / "web-cert" / certs.CA_FILE) == "CN=Team CA"
    assert _subject(folder / "console" / certs.CA_FILE) == "CN=west site CA"
    wait_listening(port, timeout=20)
    served = curl(port, folder / "team-ca" / certs.CA_FILE)
    assert served.stdout == "hello over the network\n", served.stderr

    before = (folder / "web-cert" / certs.CERT_FILE).read_bytes()
    again = ok("apply", "-f", str(path), "-n", "west").stdout
    assert "Certificate web-cert unchanged" in again
    assert (folder / "web-cert" / certs.CERT_FILE).read_bytes() == before
    generated = tmp_path / "generated.yaml"
    generated.write_text(ok("site", "generate", "-n", "west").stdout)
    round_trip = ok("apply", "-f", str(generated), "-n", "west").stdout
    assert "created" not in round_trip and "updated" not in round_trip, round_trip


def test_a_certificate_of_an_unknown_ca_is_refused(router_available: None, tmp_path: Path) -> None:
    ok("site", "init", "west", "-n", "west")
    path = tmp_path / "cert.yaml"
    path.write_text(
        "apiVersion: skupper.io/v2alpha1\nkind: Certificate\nmetadata:\n  name: c\n"
        "spec:\n  ca: nobody-ca\n  server: true\n"
    )
    assert "spec.ca: no CA named nobody-ca" in fails("apply", "-f", str(path), "-n", "west")
