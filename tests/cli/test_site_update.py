"""`site update --link-access|--no-link-access` on a running linux site: links come and go,
the site keeps its identity, and what cannot be done is one line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cli_helpers import fails, ok, status_json
from tests.ports import free_port


def link_up(namespace: str) -> bool:
    links = status_json("link", "status", "-n", namespace)
    return len(links) == 1 and bool(links[0]["up"])


def wait_until(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def west(router_available: None) -> str:
    ok("site", "init", "west", "-n", "west")
    return "west"


def test_link_access_on_and_off(west: str, tmp_path: Path) -> None:
    assert status_json("site", "status", "-n", west)["linkAccessPort"] is None
    instance = status_json("site", "status", "-n", west)["router"]["instance"]
    port = free_port()
    result = ok("site", "update", "--enable-link-access", "--bind-host", "127.0.0.1",
                "--port", str(port), "--grant-port", str(free_port()), "-n", west)  # fmt: skip
    assert result.stdout == "Site in namespace west: link access on.\n"
    assert status_json("site", "status", "-n", west)["linkAccessPort"] == port
    # Another site links to it, by link file and by token.
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", west).stdout)
    ok("site", "init", "east", "-n", "east")
    ok("link", "create", str(link_file), "-n", "east")
    token = tmp_path / "token.yaml"
    token.write_text(ok("token", "issue", "--host", "127.0.0.1", "-n", west).stdout)
    ok("site", "init", "north", "-n", "north")
    ok("token", "redeem", str(token), "-n", "north")
    wait_until(lambda: link_up("east") and link_up("north"), "links to west")
    assert status_json("site", "status", "-n", west)["router"]["instance"] == instance

    assert fails("site", "update", "--link-access", "-n", west) == (
        "site west already has link access: nothing to change"
    )
    result = ok("site", "update", "--no-link-access", "-n", west)
    assert "link access off" in result.stdout
    wait_until(lambda: not link_up("east") and not link_up("north"), "links closing", 10)
    assert status_json("site", "status", "-n", west)["linkAccessPort"] is None
    assert fails("link", "generate", "-n", west).startswith("site west has no link access")
    assert status_json("site", "status", "-n", west)["router"]["instance"] == instance


def test_site_update_refusals(west: str) -> None:
    assert fails("site", "update", "-n", west) == (
        "nothing to change: give --link-access or --no-link-access"
    )
    assert fails("site", "update", "--no-link-access", "-n", west) == (
        "site west has no link access: nothing to change"
    )
    ok("site", "init", "store", "--edge", "-n", "store")
    assert fails("site", "update", "--link-access", "-n", "store") == (
        "site store is an edge site: it accepts no links"
    )
