"""Access tokens and revocation end to end: real routers on loopback, driven by the CLI.

`east` has link access and issues tokens; its grant server runs in its router. Refusals
must be one clear line on the redeeming side, logged on the issuing side, and leave the
redeeming site unchanged. A revoked site's link drops at once and stays down while the
other links carry traffic throughout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from skupper_podman import certs
from skupper_podman.paths import namespace_paths
from skupper_podman.site import runtime
from skupper_podman.site.migration import open_site
from tests.cli_helpers import fails, files_under, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_for_port

LINK_UP_SECONDS = 20.0


@pytest.fixture
def east(router_available: None) -> Iterator[int]:
    """The issuing site; yields its grant server port."""
    grant_port = free_port()
    ok(
        "site", "init", "east", "--link-access", "--bind-host", "127.0.0.1",
        "--port", str(free_port()), "--grant-port", str(grant_port), "-n", "east",
    )  # fmt: skip
    yield grant_port


def site(name: str) -> str:
    ok("site", "init", name, "-n", name)
    return name


def issue(tmp_path: Path, *options: str) -> Path:
    result = ok("token", "issue", "--host", "127.0.0.1", *options, "-n", "east")
    assert result.stderr == ""
    path = tmp_path / f"token-{time.monotonic_ns()}.yaml"
    path.write_text(result.stdout)
    return path


def edited(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    token = yaml.safe_load(path.read_text())
    change(token)
    copy = path.with_name(f"edited-{path.name}")
    copy.write_text(yaml.safe_dump(token))
    return copy


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `check` until true; return the seconds it took."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - start


def link_up(namespace: str) -> bool:
    links = status_json("link", "status", "-n", namespace)
    return len(links) == 1 and bool(links[0]["up"])


def router_log(namespace: str) -> str:
    return namespace_paths(namespace).log_file.read_text()


def grants() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = status_json("token", "list", "-n", "east")
    return found


# --- issuing and redeeming ------------------------------------------------------------------


def test_token_shape(east: int, tmp_path: Path) -> None:
    token = yaml.safe_load(issue(tmp_path, "--name", "for-west", "--cost", "4").read_text())
    assert token["apiVersion"] == "skupper.io/v2alpha1" and token["kind"] == "AccessToken"
    assert token["metadata"]["name"] == "for-west"
    assert token["spec"]["url"].startswith(f"https://127.0.0.1:{east}/")
    assert token["spec"]["linkCost"] == 4
    assert token["spec"]["ca"].startswith("-----BEGIN CERTIFICATE-----")
    assert len(token["spec"]["code"]) >= 24
    grant_file = namespace_folder_of("east") / "resources" / "AccessGrant-for-west.yaml"
    grant = yaml.safe_load(grant_file.read_text())
    assert grant["kind"] == "AccessGrant" and grant["spec"]["redemptionsAllowed"] == 1
    assert grant_file.stat().st_mode & 0o077 == 0  # the code is a secret
    clash = fails("token", "issue", "--name", "for-west", "--host", "127.0.0.1", "-n", "east")
    assert clash == "a grant named for-west already exists in namespace east"


def test_skupper_s_flag_names_work_too(east: int, tmp_path: Path) -> None:
    issue(tmp_path, "--name", "skupper-names", "--redemptions-allowed", "3",
          "--expiration-window", "2h")  # fmt: skip
    grant_file = namespace_folder_of("east") / "resources" / "AccessGrant-skupper-names.yaml"
    spec = yaml.safe_load(grant_file.read_text())["spec"]
    assert spec["redemptionsAllowed"] == 3 and spec["expirationWindow"] == "2h"


def namespace_folder_of(namespace: str) -> Path:
    return namespace_paths(namespace).root


def test_two_uses_two_sites_then_refused(east: int, tmp_path: Path) -> None:
    token = issue(tmp_path, "--uses", "2", "--name", "pair", "--cost", "3")
    for name in ("west", "north"):
        site(name)
    ok("token", "redeem", str(token), "-n", "west")
    ok("token", "redeem", str(token), "--name", "to-east", "-n", "north")
    site("south")
    before = files_under(namespace_folder_of("south"))
    message = fails("token", "redeem", str(token), "-n", "south")
    assert message == (
        f"token refused by the grant server at 127.0.0.1:{east}: "
        "the token was already redeemed 2 of 2 times"
    )
    assert files_under(namespace_folder_of("south")) == before
    assert "refused: the token was already redeemed 2 of 2 times" in router_log("east")
    for name in ("west", "north"):
        wait_until(lambda n=name: link_up(n), LINK_UP_SECONDS, f"link of {name}")  # type: ignore[misc]
    (west_link,) = status_json("link", "status", "-n", "west")
    assert west_link["name"] == "pair" and west_link["remoteSite"] == "east"
    assert west_link["cost"] == 3
    assert status_json("link", "status", "-n", "north")[0]["name"] == "to-east"
    (grant,) = grants()
    assert grant["name"] == "pair" and grant["status"] == "used up"
    assert (grant["redemptions"], grant["redemptionsAllowed"], grant["remaining"]) == (2, 2, 0)
    assert grant["redeemedBy"] == ["west", "north"]


def test_expired_token_is_refused(east: int, tmp_path: Path) -> None:
    token = issue(tmp_path, "--expiry", "1s")
    site("west")
    time.sleep(1.5)
    message = fails("token", "redeem", str(token), "-n", "west")
    assert message.startswith(f"token refused by the grant server at 127.0.0.1:{east}: ")
    assert "the token expired at " in message
    assert "refused: the token expired at" in router_log("east")
    assert status_json("link", "status", "-n", "west") == []
    (grant,) = grants()
    assert grant["status"] == "expired" and grant["remaining"] == 0


def test_tampered_code_is_refused_and_spends_nothing(east: int, tmp_path: Path) -> None:
    token = issue(tmp_path)
    site("west")

    def change_one_byte(document: dict[str, Any]) -> None:
        code = document["spec"]["code"]
        document["spec"]["code"] = code[:5] + ("A" if code[5] != "A" else "B") + code[6:]

    message = fails("token", "redeem", str(edited(token, change_one_byte)), "-n", "west")
    assert message == (
        f"token refused by the grant server at 127.0.0.1:{east}: "
        "the token's code does not match its grant (altered token?)"
    )
    assert "refused: the token's code does not match" in router_log("east")
    assert grants()[0]["remaining"] == 1
    ok("token", "redeem", str(token), "-n", "west")  # the real token still works


def test_unknown_grant_is_refused(east: int, tmp_path: Path) -> None:
    token = issue(tmp_path)
    site("west")

    def other_grant(document: dict[str, Any]) -> None:
        document["spec"]["url"] = document["spec"]["url"].rsplit("/", 1)[0] + "/0123abcd-ffff"

    message = fails("token", "redeem", str(edited(token, other_grant)), "-n", "west")
    assert message == (
        f"token refused by the grant server at 127.0.0.1:{east}: "
        "no such access grant (unknown or deleted token)"
    )


def test_token_with_replaced_ca_cannot_reach_the_server(east: int, tmp_path: Path) -> None:
    token = issue(tmp_path)
    site("west")
    other_ca = certs.new_ca("someone else").cert_pem().decode()

    def replace_ca(document: dict[str, Any]) -> None:
        document["spec"]["ca"] = other_ca

    message = fails("token", "redeem", str(edited(token, replace_ca)), "-n", "west")
    assert message.startswith(
        f"cannot verify the grant server at 127.0.0.1:{east} with the token's CA ("
    )
    assert message.endswith("the token is not from that site, or the site's CA was replaced")
    assert grants()[0]["remaining"] == 1


def test_refusals_before_anything_is_spent(east: int, tmp_path: Path) -> None:
    token = issue(tmp_path, "--name", "only")
    assert fails("token", "redeem", str(token), "-n", "east") == (
        f"{token}: this token was issued by this site; redeem it on another site"
    )
    site("west")
    ok("token", "redeem", str(token), "--name", "taken", "-n", "west")
    again = issue(tmp_path, "--name", "again")
    assert fails("token", "redeem", str(again), "--name", "taken", "-n", "west") == (
        "a link named taken already exists in namespace west"
    )
    assert {g["name"]: g["remaining"] for g in grants()} == {"only": 0, "again": 1}
    assert fails("token", "issue", "--expiry", "soon", "-n", "east").startswith(
        "invalid expiry 'soon'"
    )
    assert fails("token", "issue", "-n", "west") == (
        "site west has no link access: init it with 'skupper-podman site init --link-access'"
    )
    not_a_token = tmp_path / "link.yaml"
    not_a_token.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", "east").stdout)
    assert fails("token", "redeem", str(not_a_token), "-n", "west") == (
        f"{not_a_token}: a token file holds exactly one AccessToken"
    )


def test_unreachable_grant_server(east: int, tmp_path: Path) -> None:
    token = issue(tmp_path)
    site("west")
    runtime.platform_of(open_site("east")).stop(namespace_paths("east"))
    message = fails("token", "redeem", str(token), "-n", "west")
    assert message == f"cannot reach the grant server at 127.0.0.1:{east}: Connection refused"


# --- revocation -----------------------------------------------------------------------------


class SteadyFlow:
    """One TCP connection through a listener, echoing a message every 50 ms in a thread;
    any failure or wrong answer is recorded."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.rounds = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = f"round {self.rounds}\n".encode()
            try:
                self.sock.sendall(message)
                received = b""
                while len(received) < len(message):
                    chunk = self.sock.recv(len(message) - len(received))
                    if not chunk:
                        raise ConnectionError("closed by the other side")
                    received += chunk
            except OSError as error:
                self.errors.append(f"round {self.rounds}: {error}")
                return
            if received != message:
                self.errors.append(f"round {self.rounds}: got {received!r}")
                return
            self.rounds += 1
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def restart(namespace: str) -> None:
    store = open_site(namespace)
    platform = runtime.platform_of(store)
    platform.stop(store.paths)
    platform.start(store.paths, runtime.exposure(store))
    runtime.wait_until_answering(store)


def test_revoked_site_goes_down_and_stays_down_while_another_carries_traffic(
    east: int, tmp_path: Path
) -> None:
    token = issue(tmp_path, "--uses", "2")
    for name in ("west", "north"):
        site(name)
        ok("token", "redeem", str(token), "-n", name)
    backend = Backend(EchoHandler)
    listener_port = free_port()
    ok("connector", "create", "echo", str(backend.port), "--routing-key", "echo",
       "--host", "127.0.0.1", "-n", "east")  # fmt: skip
    ok("listener", "create", "echo", str(listener_port), "--routing-key", "echo", "-n", "north")
    for name in ("west", "north"):
        wait_until(lambda n=name: link_up(n), LINK_UP_SECONDS, f"link of {name}")  # type: ignore[misc]
    wait_for_port(listener_port, timeout=20)
    flow = SteadyFlow(listener_port)
    try:
        time.sleep(0.5)
        assert flow.errors == [] and flow.rounds > 0
        refusals_before = router_log("east").count("refused: certificate revoked")

        assert ok("link", "revoke", "west", "-n", "east").stdout == (
            "Revoked 1 certificate(s) issued to west.\n"
        )
        took = wait_until(lambda: not link_up("west"), 2.0, "west's link going down")
        rounds_at_revoke = flow.rounds
        watch_until = time.monotonic() + 6.0
        while time.monotonic() < watch_until:
            assert not link_up("west"), "the revoked site's link came back"
            assert link_up("north"), "the other link went down"
            time.sleep(0.25)
        (west_link,) = status_json("link", "status", "-n", "west")
        assert west_link["message"] == "amqp:unauthorized-access: certificate revoked"
        # West kept trying to reconnect and was refused each time.
        refusals = router_log("east").count("refused: certificate revoked") - refusals_before
        assert refusals >= 3, refusals
        # The flow through north never stopped, and new flows work too.
        assert flow.errors == [], flow.errors
        assert flow.rounds > rounds_at_revoke + 50
        assert echo_once(listener_port, b"after the revocation") == b"after the revocation"
    finally:
        flow.stop()
        backend.close()
    assert took < 2.0
    assert grants()[0]["redeemedBy"] == ["west (revoked)", "north"]
    assert ok("link", "revoke", "west", "-n", "east").stdout == "west was already revoked.\n"
    assert fails("link", "revoke", "nobody", "-n", "east") == (
        "this site issued no link credentials to nobody; issued to: north, west"
    )

    # Grants and revocations are files: a restarted router keeps both.
    restart("east")
    wait_until(lambda: link_up("north"), LINK_UP_SECONDS, "north's link after the restart")
    time.sleep(2.0)
    assert not link_up("west")
    assert grants()[0]["redeemedBy"] == ["west (revoked)", "north"]


def test_grants_survive_a_restart_and_generated_links_can_be_revoked(
    east: int, tmp_path: Path
) -> None:
    token = issue(tmp_path)
    restart("east")
    site("west")
    ok("token", "redeem", str(token), "-n", "west")
    wait_until(lambda: link_up("west"), LINK_UP_SECONDS, "west's link")
    site("north")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(
        ok("link", "generate", "--name", "for-north", "--host", "127.0.0.1", "-n", "east").stdout
    )
    ok("link", "create", str(link_file), "-n", "north")
    wait_until(lambda: link_up("north"), LINK_UP_SECONDS, "north's link")
    ok("link", "revoke", "for-north", "-n", "east")
    wait_until(lambda: not link_up("north"), 2.0, "north's link going down")
    assert link_up("west")
