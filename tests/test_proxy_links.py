"""Links and token redemptions through a real HTTP proxy (tinyproxy, with credentials) on
loopback, the direct route to the linked site blocked.

The block is an iptables rule on this host's OUTPUT chain: connections to the linked
site's link and grant ports are reset unless they come from the proxy's user (nobody).
So a link that comes up went through the proxy. Root only (iptables, the proxy's user);
the test setup installs tinyproxy in CI, where nothing here is skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from skupper_podman.paths import namespace_paths
from tests.cli_helpers import fails, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_for_port

PROXY_USER = "nobody"
PASSWORD = "pr0xy-pa55"
TINYPROXY_REFUSAL = "401 Unauthorized"  # its answer to a CONNECT with wrong credentials
LINK_SECONDS = 20.0


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (an iptables rule, a proxy running as nobody)"
    for tool in ("tinyproxy", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@pytest.fixture(autouse=True)
def _needs_root_and_tools() -> None:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)


@dataclass
class Proxy:
    port: int
    log: Path

    def url(self, password: str = PASSWORD) -> str:
        return f"http://tester:{password}@127.0.0.1:{self.port}"

    def tunnels_to(self, port: int) -> int:
        return self.log.read_text().count(f"CONNECT 127.0.0.1:{port} ")


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    port = free_port()
    config = tmp_path / "tinyproxy.conf"
    config.write_text(
        f"Port {port}\nListen 127.0.0.1\nUser {PROXY_USER}\nGroup nogroup\nTimeout 600\n"
        f"LogLevel Info\nMaxClients 100\nBasicAuth tester {PASSWORD}\n"
    )
    log = tmp_path / "tinyproxy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["tinyproxy", "-d", "-c", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, timeout=10)
        yield Proxy(port, log)
    finally:
        process.terminate()
        process.wait(timeout=10)
        print(f"--- tinyproxy log ---\n{log.read_text()[-4000:]}")


class Firewall:
    """Connections to a blocked port are reset unless they come from the proxy's user."""

    def __init__(self) -> None:
        self.rules: list[list[str]] = []

    def block(self, port: int) -> None:
        rule = ["OUTPUT", "-o", "lo", "-p", "tcp", "--dport", str(port), "-m", "owner",
                "!", "--uid-owner", PROXY_USER, "-j", "REJECT", "--reject-with",
                "tcp-reset"]  # fmt: skip
        subprocess.run(["iptables", "-I", *rule], check=True)
        self.rules.append(rule)
        with pytest.raises(ConnectionRefusedError):  # the direct route is really closed
            socket.create_connection(("127.0.0.1", port), timeout=5).close()

    def open_all(self) -> None:
        for rule in self.rules:
            subprocess.run(["iptables", "-D", *rule], check=False)


@pytest.fixture
def firewall() -> Iterator[Firewall]:
    walls = Firewall()
    try:
        yield walls
    finally:
        walls.open_all()


def link_status(namespace: str) -> dict[str, object]:
    (link,) = status_json("link", "status", "-n", namespace)
    found: dict[str, object] = link
    return found


def wait_link(namespace: str, check: str = "up") -> dict[str, object]:
    deadline = time.monotonic() + LINK_SECONDS
    while True:
        link = link_status(namespace)
        if (link["up"] if check == "up" else link["message"]) or time.monotonic() > deadline:
            return link
        time.sleep(0.2)


def test_links_and_tokens_go_through_the_proxy(
    proxy: Proxy, firewall: Firewall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    router_available: None,
) -> None:  # fmt: skip
    link_port, grant_port = free_port(), free_port()
    ok("site", "init", "hub", "--link-access", "--bind-host", "127.0.0.1", "--port",
       str(link_port), "--grant-port", str(grant_port), "-n", "hub")  # fmt: skip
    backend = Backend(EchoHandler)
    ok("connector", "create", "echo", str(backend.port), "--host", "127.0.0.1", "-n", "hub")
    token = tmp_path / "token.yaml"
    token.write_text(ok("token", "issue", "--host", "127.0.0.1", "--uses", "3", "-n", "hub").stdout)
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", "hub").stdout)
    firewall.block(link_port)
    firewall.block(grant_port)

    # A token redeemed through the proxy named on the command line; the link follows it.
    ok("site", "init", "west", "-n", "west")
    wrong = fails("token", "redeem", str(token), "--proxy", proxy.url("wrong"), "-n", "west")
    assert wrong.startswith(
        f"cannot reach the grant server at 127.0.0.1:{grant_port} through proxy "
        f"127.0.0.1:{proxy.port}: "
    ), wrong
    assert wrong.endswith(TINYPROXY_REFUSAL), wrong  # tinyproxy answers a CONNECT 401
    ok("token", "redeem", str(token), "--proxy", proxy.url(), "-n", "west")
    link = wait_link("west")
    assert link["up"] is True, link
    assert link["proxy"] == f"127.0.0.1:{proxy.port}"
    listener_port = free_port()
    ok("listener", "create", "echo", str(listener_port), "-n", "west")
    wait_for_port(listener_port, timeout=20)
    assert echo_once(listener_port, b"through the proxy") == b"through the proxy"
    assert proxy.tunnels_to(grant_port) == 2  # the refused one, then the redemption
    assert proxy.tunnels_to(link_port) >= 1
    # The refused redemption spent nothing: two uses are left.
    (grant,) = status_json("token", "list", "-n", "hub")
    assert grant["redemptions"] == 1, grant

    # A link file, the proxy from HTTPS_PROXY, recorded on the Link for the router.
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    ok("site", "init", "north", "-n", "north")
    ok("link", "create", str(link_file), "-n", "north")
    assert wait_link("north")["up"] is True
    (link_yaml,) = namespace_paths("north").resources.glob("Link-*.yaml")
    stored = yaml.safe_load(link_yaml.read_text())
    assert stored["spec"]["settings"]["proxy"] == proxy.url()
    # A debug dump keeps the proxy, not its password.
    dump = tmp_path / "north.tar.gz"
    ok("debug", "dump", str(dump), "-n", "north")
    with tarfile.open(dump) as tar:
        contents = b"".join(
            tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        )
    assert PASSWORD.encode() not in contents
    assert f"tester:<redacted>@127.0.0.1:{proxy.port}".encode() in contents
    # NO_PROXY naming the host, or --no-proxy: a direct link, which the firewall stops.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    ok("site", "init", "south", "-n", "south")
    ok("link", "create", str(link_file), "--name", "direct", "-n", "south")
    link = wait_link("south", check="message")
    assert link["up"] is False and link["proxy"] == "", link
    assert "refused" in str(link["message"]).lower(), link

    # Wrong credentials on a link: its status says what the proxy answered.
    monkeypatch.delenv("NO_PROXY")
    ok("site", "init", "east", "-n", "east")
    ok("link", "create", str(link_file), "--proxy", proxy.url("wrong"), "-n", "east")
    link = wait_link("east", check="message")
    assert link["up"] is False
    assert link["message"] == (
        f"proxy 127.0.0.1:{proxy.port} refused the tunnel: {TINYPROXY_REFUSAL}"
    ), link


def test_a_bad_proxy_is_one_line_and_makes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, router_available: None
) -> None:
    ok("site", "init", "hub", "--link-access", "--bind-host", "127.0.0.1", "--port",
       str(free_port()), "-n", "hub")  # fmt: skip
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", "hub").stdout)
    ok("site", "init", "west", "-n", "west")
    assert fails("link", "create", str(link_file), "--proxy", "https://p:3128", "-n", "west") == (
        "--proxy: proxy 'https://p:3128': only http:// proxies are supported"
    )
    monkeypatch.setenv("HTTPS_PROXY", "socks5://p:1080")
    assert fails("link", "create", str(link_file), "-n", "west") == (
        "HTTPS_PROXY: proxy 'socks5://p:1080': only http:// proxies are supported"
    )
    assert status_json("link", "status", "-n", "west") == []
