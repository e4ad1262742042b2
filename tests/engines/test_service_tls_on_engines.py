"""TLS on services in a container site (rootful Podman, rootless Podman, Docker).

The router runs in its container and reads the site's credential folders mounted there:
a listener whose certificate the site makes serves curl on the host over TLS; a
connector speaks TLS to a backend container (a Python HTTPS server), verifying it with a
CA imported from a folder of PEM files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from skupper_podman import certs
from tests.engines.conftest import Target
from tests.engines.test_sites import (
    BACKEND_PORT,
    BACKEND_SCRIPT,
    INDEX,
    fetch,
    run_test_container,
    wait_listener_up,
    wait_resolvable,
    wait_serving,
)
from tests.ports import free_port

TLS_BACKEND_PORT = 8443
TLS_BACKEND_SCRIPT = (
    "mkdir -p /tmp/www && cd /tmp/www && "
    f"echo '{INDEX}' > index.html && exec python3 -c \""
    "import http.server, ssl; "
    f"s = http.server.HTTPServer(('', {TLS_BACKEND_PORT}), http.server.SimpleHTTPRequestHandler); "
    "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); "
    "c.load_cert_chain('/certs/tls.crt', '/certs/tls.key'); "
    "s.socket = c.wrap_socket(s.socket, server_side=True); "
    's.serve_forever()"'
)


def _owned(target: Target, folder: Path) -> None:
    if target.home_owner is not None:
        for path in (folder, *folder.iterdir()):
            shutil.chown(path, target.home_owner, target.home_owner)


def test_tls_listener_and_connector_in_a_container_site(target: Target) -> None:
    home = target.new_home()
    target.cli("site", "init", "tlsw", "-n", "tlsw", home=home)

    # a listener with a certificate the site makes, in front of a plain backend
    run_test_container(
        target, "skupper-tlsw", "web-backend", "-d", target.base_image, "sh", "-c", BACKEND_SCRIPT
    )
    target.cli("connector", "create", "web", str(BACKEND_PORT), "--routing-key", "web",
               "--host", "web-backend", "-n", "tlsw", home=home)  # fmt: skip
    web_port = free_port()
    target.cli("listener", "create", "web", str(web_port), "--routing-key", "web",
               "--tls-credentials", "web-tls", "-n", "tlsw", home=home)  # fmt: skip
    service_ca = home / "namespaces" / "tlsw" / "certs" / "skupper-service-ca" / certs.CA_FILE

    def curl() -> str:
        result = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "--cacert", str(service_ca),
             f"https://localhost:{web_port}/index.html"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else ""

    wait_serving(target, "web-backend", BACKEND_PORT)
    wait_resolvable(target, "skupper-tlsw-router", "web-backend")
    wait_listener_up(target, home, "tlsw", "web")
    assert curl() == INDEX

    # a connector to a TLS backend container, trusting a CA from a folder of PEM files
    backend_ca = certs.new_ca("backend-ca")
    backend_certs = home / "backend-certs"
    certs.write_credential(
        backend_certs, certs.issue_server_cert(backend_ca, "tls-backend", ["tls-backend"]).files()
    )
    os.chmod(backend_certs, 0o755)
    _owned(target, backend_certs)
    run_test_container(
        target, "skupper-tlsw", "tls-backend", "-d", "-v", f"{backend_certs}:/certs:ro",
        target.base_image, "sh", "-c", TLS_BACKEND_SCRIPT,
    )  # fmt: skip
    trust = home / "backend-ca"
    trust.mkdir()
    (trust / certs.CA_FILE).write_bytes(backend_ca.cert_pem())
    _owned(target, trust)
    target.cli("connector", "create", "secure", str(TLS_BACKEND_PORT), "--routing-key", "secure",
               "--host", "tls-backend", "--tls-credentials", str(trust), "-n", "tlsw",
               home=home)  # fmt: skip
    secure_port = free_port()
    target.cli("listener", "create", "secure", str(secure_port), "--routing-key", "secure",
               "-n", "tlsw", home=home)  # fmt: skip
    wait_serving(target, "tls-backend", TLS_BACKEND_PORT)
    wait_resolvable(target, "skupper-tlsw-router", "tls-backend")
    wait_listener_up(target, home, "tlsw", "secure")
    assert fetch(secure_port, "index.html").decode().strip() == INDEX
