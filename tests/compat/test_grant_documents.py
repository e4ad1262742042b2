"""AccessGrant and AccessToken documents through `apply -f` (``site/grant_documents.py``):
a grant applied on one site, its token applied on another, a link that carries a flow."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from tests.cli_helpers import fails, init_linkable_site, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_listening

GRANT = """\
apiVersion: skupper.io/v2alpha1
kind: AccessGrant
metadata:
  name: for-west
spec:
  redemptionsAllowed: 1
  expirationWindow: 10m
  code: letmein-0123456789
"""


def _apply(path: Path, text: str, namespace: str) -> str:
    path.write_text(text)
    return ok("apply", "-f", str(path), "-n", namespace).stdout


def test_a_grant_and_its_token_applied_link_two_sites(
    router_available: None, tmp_path: Path
) -> None:
    init_linkable_site("east")
    said = _apply(tmp_path / "grant.yaml", GRANT, "east")
    assert "AccessGrant for-west created" in said
    assert "skupper-podman token show for-west -n east" in said
    token_text = ok("token", "show", "for-west", "-n", "east").stdout
    token = yaml.safe_load(token_text)
    assert token["kind"] == "AccessToken" and token["spec"]["code"] == "letmein-0123456789"
    again = _apply(tmp_path / "grant.yaml", GRANT, "east")
    assert "AccessGrant for-west unchanged" in again

    backend = Backend(EchoHandler)
    ok("connector", "create", "echo", str(backend.port), "--routing-key", "echo",
       "--host", "127.0.0.1", "-n", "east")  # fmt: skip
    ok("site", "init", "west", "-n", "west")
    said = _apply(tmp_path / "token.yaml", token_text, "west")
    assert "Link for-west created" in said
    deadline = time.monotonic() + 20
    while not all(link["up"] for link in status_json("link", "status", "-n", "west")):
        assert time.monotonic() < deadline, "the redeemed link did not come up"
        time.sleep(0.1)
    port = free_port()
    ok("listener", "create", "echo", str(port), "--routing-key", "echo", "-n", "west")
    wait_listening(port, timeout=20)
    assert echo_once(port, b"granted") == b"granted"
    # the same token again: its link is there, nothing is spent
    assert "AccessToken for-west unchanged" in _apply(tmp_path / "t2.yaml", token_text, "west")
    backend.close()

    # deleting the grant ends its redemptions
    ok("delete", "-f", str(tmp_path / "grant.yaml"), "-n", "east")
    assert "no grant named for-west" in fails("token", "show", "for-west", "-n", "east")


def test_a_grant_needs_link_access(router_available: None, tmp_path: Path) -> None:
    ok("site", "init", "west", "-n", "west")
    path = tmp_path / "grant.yaml"
    path.write_text(GRANT)
    assert "the site has no link access" in fails("apply", "-f", str(path), "-n", "west")
