"""`site rotate-certs`: a new server certificate, and a site CA renewed in two steps, with
real routers, real links and tokens, and openssl reading the certificate served."""

from __future__ import annotations

import datetime
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from skupper_podman import certs
from skupper_podman.paths import namespace_paths
from tests.cli_helpers import fails, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_for_port

LINK_SECONDS = 20.0
# A link closed by a restart comes back at the peer's next redial: seconds, not minutes.
RELINK_SECONDS = 10.0
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def served_certificate(port: int) -> x509.Certificate:
    """The certificate openssl s_client is shown on 127.0.0.1:port (the handshake then
    fails: the router wants a client certificate; the server's came first)."""
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-showcerts"],
        input=b"",
        capture_output=True,
        timeout=20,
        check=False,
    )
    found = PEM.search(result.stdout)
    assert found, result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    return x509.load_pem_x509_certificate(found.group(0))


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - start


def link_up(namespace: str) -> bool:
    links = status_json("link", "status", "-n", namespace)
    return len(links) == 1 and bool(links[0]["up"])


def site_ca(namespace: str) -> x509.Certificate:
    folder = namespace_paths(namespace).root / "certs" / certs.SITE_CA
    return certs.read_credential(folder).cert


def warnings(namespace: str) -> list[str]:
    found: list[str] = status_json("site", "status", "-n", namespace)["certificateWarnings"]
    return found


class East:
    """The site with link access, an echo connector and a grant server."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.link_port = free_port()
        ok(
            "site", "init", "east", "--link-access", "--bind-host", "127.0.0.1",
            "--port", str(self.link_port), "--grant-port", str(free_port()), "-n", "east",
        )  # fmt: skip
        self.backend = Backend(EchoHandler)
        ok("connector", "create", "echo", str(self.backend.port), "--host", "127.0.0.1",
           "-n", "east")  # fmt: skip

    def link_by_file(self, namespace: str) -> None:
        ok("site", "init", namespace, "-n", namespace)
        link_file = self.tmp_path / f"{namespace}-link.yaml"
        link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", "east").stdout)
        ok("link", "create", str(link_file), "-n", namespace)

    def link_by_token(self, namespace: str) -> None:
        ok("site", "init", namespace, "-n", namespace)
        token = self.tmp_path / f"{namespace}-token.yaml"
        token.write_text(ok("token", "issue", "--host", "127.0.0.1", "-n", "east").stdout)
        ok("token", "redeem", str(token), "-n", namespace)

    def restart(self) -> None:
        ok("system", "stop", "-n", "east")
        ok("system", "start", "-n", "east")


def flows_through(namespace: str) -> None:
    """A listener on `namespace` reaches east's echo backend."""
    port = free_port()
    ok("listener", "create", f"echo-{namespace}", str(port), "--routing-key", "echo",
       "-n", namespace)  # fmt: skip
    wait_for_port(port, timeout=20)
    assert echo_once(port, namespace.encode()) == namespace.encode()


@pytest.fixture
def east(router_available: None, tmp_path: Path) -> East:
    return East(tmp_path)


def test_a_new_server_certificate_is_served_and_links_come_back(east: East) -> None:
    east.link_by_file("west")
    wait_until(lambda: link_up("west"), LINK_SECONDS, "west's link")
    before = served_certificate(east.link_port)

    result = ok("site", "rotate-certs", "-n", "east")
    assert result.stdout.startswith("Site in namespace east: new link access server certificate")
    after = served_certificate(east.link_port)
    assert after.serial_number != before.serial_number
    assert after.public_key() != before.public_key()
    assert after.issuer == site_ca("east").subject
    assert link_up("west")  # the established link stays

    east.restart()
    took = wait_until(lambda: link_up("west"), RELINK_SECONDS, "west's link after the restart")
    print(f"west relinked {took:.1f} s after east restarted with its new certificate")
    flows_through("west")
    # The grant server serves the new certificate too: a token still links a site.
    east.link_by_token("north")
    wait_until(lambda: link_up("north"), LINK_SECONDS, "north's link by token")
    flows_through("north")


def test_the_site_ca_is_renewed_without_cutting_anyone_off_until_finished(east: East) -> None:
    east.link_by_file("west")  # linked under the old CA, never linked again
    wait_until(lambda: link_up("west"), LINK_SECONDS, "west's link")
    old_ca = site_ca("east")
    served = served_certificate(east.link_port)
    assert warnings("east") == []

    result = ok("site", "rotate-certs", "--ca", "-n", "east")
    assert "new site CA" in result.stdout
    assert "1 link certificate(s) were handed out under the previous CA" in result.stderr
    new_ca = site_ca("east")
    assert new_ca.public_key() != old_ca.public_key()
    # Until the rotation is finished the server certificate stays the one peers trust.
    assert served_certificate(east.link_port).serial_number == served.serial_number
    assert any("CA rotation is under way" in line for line in warnings("east"))
    # New peers are signed by the new CA and given both CAs: by token and by link file.
    east.link_by_token("north")
    east.link_by_file("south")
    for namespace in ("west", "north", "south"):
        wait_until(lambda n=namespace: link_up(n), LINK_SECONDS, f"{namespace}'s link")  # type: ignore[misc]
    east.restart()  # every one of them verifies the served certificate again
    for namespace in ("west", "north", "south"):
        wait_until(lambda n=namespace: link_up(n), RELINK_SECONDS, f"{namespace} relinked")  # type: ignore[misc]
    flows_through("west")
    assert fails("site", "rotate-certs", "--ca", "-n", "east") == (
        "a CA rotation is already under way: finish it with 'site rotate-certs --ca --finish'"
    )

    result = ok("site", "rotate-certs", "--ca", "--finish", "-n", "east")
    assert "1 link certificate(s) of the previous CA revoked" in result.stderr
    after = served_certificate(east.link_port)
    assert after.issuer == new_ca.subject
    after.verify_directly_issued_by(new_ca)
    # West held only the old CA's certificate: its link closes and stays closed.
    wait_until(lambda: not link_up("west"), 5.0, "west's link closing")
    east.restart()
    for namespace in ("north", "south"):
        wait_until(lambda n=namespace: link_up(n), RELINK_SECONDS, f"{namespace} relinked")  # type: ignore[misc]
        flows_through(namespace)
    time.sleep(2)
    assert not link_up("west")
    assert warnings("east") == []
    assert not (namespace_paths("east").root / "certs" / certs.PREVIOUS_SITE_CA).exists()


def test_certificates_near_their_end_show_in_site_status(east: East) -> None:
    folder = namespace_paths("east").root / "certs" / certs.SITE_SERVER
    ca = certs.read_credential(namespace_paths("east").root / "certs" / certs.SITE_CA)
    soon = certs.issue_server_cert(ca, "east", ["127.0.0.1"], validity=datetime.timedelta(days=20))
    certs.write_credential(folder, soon.files())
    expires = f"{soon.cert.not_valid_after_utc:%Y-%m-%d}"
    assert warnings("east") == [
        f"certificate {certs.SITE_SERVER} expires on {expires} (in 19 days)"
    ]
    table = ok("site", "status", "-n", "east").stdout
    assert f"certificate {certs.SITE_SERVER} expires on {expires}" in table
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=40)
    gone = certs.issue_server_cert(
        ca, "east", ["127.0.0.1"], validity=datetime.timedelta(days=10), not_before=long_ago
    )
    certs.write_credential(folder, gone.files())
    expired = f"{gone.cert.not_valid_after_utc:%Y-%m-%d}"
    assert warnings("east") == [f"certificate {certs.SITE_SERVER} expired on {expired}"]
    ok("site", "rotate-certs", "-n", "east")
    assert warnings("east") == []


def test_rotation_refusals_are_one_line(east: East) -> None:
    assert fails("site", "rotate-certs", "--finish", "-n", "east") == (
        "--finish ends a CA rotation: use it with --ca"
    )
    assert fails("site", "rotate-certs", "--ca", "--finish", "-n", "east") == (
        "no CA rotation is under way: start one with 'site rotate-certs --ca'"
    )
    ok("site", "init", "plain", "-n", "plain")
    assert fails("site", "rotate-certs", "-n", "plain") == (
        "site plain has no link access: it has no server certificate to rotate; "
        "'site rotate-certs --ca' renews its CA"
    )
    before = site_ca("plain")
    ok("site", "rotate-certs", "--ca", "-n", "plain")
    assert site_ca("plain").public_key() != before.public_key()
