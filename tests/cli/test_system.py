"""`system start|stop|reload|status` on the linux platform (no systemd here: the platform
runs the router): a stopped site comes back with its identity, certificates, link and
services, and a start that cannot work says why in one line and leaves nothing running."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from pathlib import Path

import pytest

from tests.cli_helpers import fails, init_linkable_site, namespace_folder, ok, run, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_for_port

LINK_UP_SECONDS = 15.0


def link_up(namespace: str) -> bool:
    return any(link["up"] for link in status_json("link", "status", "-n", namespace))


def wait_until_linked(namespace: str) -> None:
    deadline = time.monotonic() + LINK_UP_SECONDS
    while not link_up(namespace):
        assert time.monotonic() < deadline, f"the link of {namespace} did not come up"
        time.sleep(0.2)


def digests(folder: Path) -> dict[str, str]:
    """Every certificate and key of a site, by path: its identity."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*.pem"))
    }


def system_status(namespace: str) -> dict[str, object]:
    result = run("system", "status", "-o", "json", "-n", namespace)
    found: dict[str, object] = json.loads(result.stdout)
    assert result.exit_code == (0 if found["routerAnswering"] else 1), result.stdout
    return found


@pytest.fixture
def linked(router_available: None, tmp_path: Path) -> tuple[str, str, int]:
    """Site east (link access, an echo connector) and site west (linked to east, a
    listener): returns both namespaces and west's listener port, with a flow through."""
    east = init_linkable_site("east")
    ok("site", "init", "west", "-n", "west")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", east).stdout)
    ok("link", "create", str(link_file), "--name", "to-east", "-n", "west")
    backend = Backend(EchoHandler)
    ok("connector", "create", "echo", str(backend.port), "--host", "127.0.0.1", "-n", east)
    port = free_port()
    ok("listener", "create", "echo", str(port), "-n", "west")
    wait_until_linked("west")
    wait_for_port(port, timeout=20)
    assert echo_once(port, b"before") == b"before"
    return east, "west", port


def test_a_stopped_site_starts_again_as_it_was(
    linked: tuple[str, str, int], skupper_home: Path
) -> None:
    east, west, port = linked
    folder = namespace_folder(skupper_home, east)
    identity = digests(folder)
    before = system_status(east)
    assert before["routerState"] == "running"
    assert before["units"] == "not installed"

    assert ok("system", "stop", "-n", east).stdout == f"Site in namespace {east} stopped.\n"
    stopped = system_status(east)
    assert stopped["routerState"] == "stopped"
    assert stopped["routerAnswering"] is False
    assert ok("system", "stop", "-n", east).stdout == (f"Site in namespace {east}: not running.\n")
    # Nothing of the site is lost while it is stopped, and nothing reaches the backend.
    assert digests(folder) == identity
    with pytest.raises(OSError):
        echo_once(port, b"while stopped", timeout=3)

    assert ok("system", "start", "-n", east).stdout == f"Site in namespace {east} started.\n"
    assert ok("system", "start", "-n", east).stdout == (
        f"Site in namespace {east}: already running.\n"
    )
    assert digests(folder) == identity
    wait_until_linked(west)  # west's link, made with east's old certificates, comes back
    wait_for_port(port, timeout=20)
    assert echo_once(port, b"after the restart") == b"after the restart"
    again = system_status(east)
    assert again["routerState"] == "running" and again["connectors"] == 1


def test_reload_renders_the_config_again_without_dropping_connections(
    linked: tuple[str, str, int], skupper_home: Path
) -> None:
    _east, west, port = linked
    config = namespace_folder(skupper_home, west) / "runtime" / "skrouterd.json"
    rendered = config.read_text()
    config.write_text("[]")  # a config lost or edited by hand
    with socket.create_connection(("127.0.0.1", port), timeout=10) as held:
        held.sendall(b"open before")
        assert held.recv(64) == b"open before"
        assert ok("system", "reload", "-n", west).stdout == (
            f"Site in namespace {west} reloaded.\n"
        )
        assert config.read_text() == rendered
        held.sendall(b"still open")
        assert held.recv(64) == b"still open"
    ok("system", "stop", "-n", west)
    assert ok("system", "reload", "-n", west).stdout == (
        f"Site in namespace {west}: not running: applies at the next start.\n"
    )


def test_start_with_a_port_taken_is_one_line_and_starts_nothing(
    linked: tuple[str, str, int], skupper_home: Path
) -> None:
    east, _west, _port = linked
    link_port = system_status(east)["linkAccessPort"]
    ok("system", "stop", "-n", east)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", int(str(link_port))))
        squatter.listen()
        message = fails("system", "start", "-n", east)
    assert message == (
        f"port {link_port} for the site's link access (inter-router) is in use on 127.0.0.1: "
        "stop what holds it, then start the site again"
    )
    assert system_status(east)["routerState"] == "stopped"
    ok("system", "start", "-n", east)
    assert system_status(east)["routerAnswering"] is True


def test_system_commands_without_a_site(router_available: None) -> None:
    for verb in ("start", "stop", "reload", "status"):
        assert fails("system", verb, "-n", "nowhere") == (
            "no site in namespace nowhere: run 'skupper-podman site init' first"
        )
