"""RouterAccess as Skupper applies it: an empty spec, no tlsCredentials, and a server
certificate the user brings (``generateTlsCredentials: false``) that links and tokens use."""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

from skupper_podman import certs
from skupper_podman.paths import home
from tests.cli_helpers import fails, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_listening
from tests.tls_peers import LOCAL_HOSTS

LINK_UP_SECONDS = 20.0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _apply(tmp_path: Path, text: str, namespace: str) -> str:
    path = tmp_path / f"{namespace}-{time.monotonic_ns()}.yaml"
    path.write_text(text)
    return ok("apply", "-f", str(path), "-n", namespace).stdout


def _link_up(namespace: str) -> bool:
    links = status_json("link", "status", "-n", namespace)
    return bool(links) and all(link["up"] for link in links)


def _wait_link_up(namespace: str) -> None:
    deadline = time.monotonic() + LINK_UP_SECONDS
    while not _link_up(namespace):
        if time.monotonic() > deadline:
            logs = [
                (home() / "namespaces" / name / "runtime" / "router.log").read_text()[-3000:]
                for name in (namespace, "east")
            ]
            raise AssertionError(
                f"{namespace}: link not up in {LINK_UP_SECONDS} s\n" + "\n".join(logs)
            )
        time.sleep(0.1)


def _served_issuer(port: int) -> str:
    shown = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-showcerts"],
        input="", capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    return shown.stdout


SITE = """\
apiVersion: skupper.io/v2alpha1
kind: Site
metadata:
  name: {name}
spec:
  linkAccess: default
"""


def test_a_brought_server_certificate_serves_links_and_tokens(
    router_available: None, tmp_path: Path
) -> None:
    user_ca = certs.new_ca("user-public-ca")
    server = certs.issue_server_cert(user_ca, "east.example", LOCAL_HOSTS)
    link_port = free_port()
    said = _apply(
        tmp_path,
        SITE.format(name="east")
        + f"""\
---
apiVersion: skupper.io/v2alpha1
kind: RouterAccess
metadata:
  name: skupper-router
spec:
  generateTlsCredentials: false
  tlsCredentials: my-public-cert
  bindHost: 127.0.0.1
  roles:
  - name: inter-router
    port: {link_port}
  - name: edge
    port: {free_port()}
---
apiVersion: v1
kind: Secret
metadata:
  name: my-public-cert
type: kubernetes.io/tls
data:
  ca.crt: {_b64(user_ca.cert_pem())}
  tls.crt: {_b64(server.cert_pem())}
  tls.key: {_b64(server.key_pem())}
""",
        "east",
    )
    assert "Secret my-public-cert created" in said
    wait_listening(link_port)
    assert "i:CN = user-public-ca" in _served_issuer(link_port)

    backend = Backend(EchoHandler)
    ok("connector", "create", "echo", str(backend.port), "--routing-key", "echo",
       "--host", "127.0.0.1", "-n", "east")  # fmt: skip

    # a link file
    ok("site", "init", "west", "-n", "west")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", "east").stdout)
    ok("link", "create", str(link_file), "-n", "west")
    _wait_link_up("west")
    port = free_port()
    ok("listener", "create", "echo", str(port), "--routing-key", "echo", "-n", "west")
    wait_listening(port, timeout=20)
    assert echo_once(port, b"through a brought certificate") == b"through a brought certificate"

    # a token
    ok("site", "init", "north", "-n", "north")
    token = tmp_path / "token.yaml"
    token.write_text(ok("token", "issue", "--host", "127.0.0.1", "-n", "east").stdout)
    ok("token", "redeem", str(token), "-n", "north")
    _wait_link_up("north")
    backend.close()


def test_router_access_defaults_as_skupper(router_available: None, tmp_path: Path) -> None:
    """No tlsCredentials: named after the RouterAccess and issued by the site."""
    inter_router, edge = free_port(), free_port()
    _apply(
        tmp_path,
        SITE.format(name="east")
        + f"""\
---
apiVersion: skupper.io/v2alpha1
kind: RouterAccess
metadata:
  name: public
spec:
  bindHost: 127.0.0.1
  roles:
  - name: inter-router
    port: {inter_router}
  - name: edge
    port: {edge}
""",
        "east",
    )
    wait_listening(inter_router)
    assert "i:CN = east site CA" in _served_issuer(inter_router)
    documents = ok("site", "generate", "-n", "east").stdout
    assert "tlsCredentials: public" in documents


def test_generate_false_without_a_secret_is_refused(router_available: None, tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        SITE.format(name="east")
        + f"""\
---
apiVersion: skupper.io/v2alpha1
kind: RouterAccess
metadata:
  name: skupper-router
spec:
  generateTlsCredentials: false
  tlsCredentials: missing-cert
  roles:
  - name: inter-router
    port: {free_port()}
"""
    )
    message = fails("apply", "-f", str(path), "-n", "east")
    assert "generateTlsCredentials is false but there is no Secret named missing-cert" in message
    assert "no site" in fails("site", "status", "-n", "east")
