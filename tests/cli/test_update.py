"""`listener|connector|link update` on running sites: the change reaches the router without
a restart, what was not given stays, and a bad change is one line that changes nothing."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.cli_helpers import fails, init_linkable_site, namespace_folder, ok, run, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once


class Tagged(EchoHandler):
    """Answers with its server's tag first, so a client knows which backend it reached."""

    def handle(self) -> None:
        self.request.sendall(self.server.tag)  # type: ignore[attr-defined]
        super().handle()


def tagged_backend(tag: bytes) -> Backend:
    backend = Backend(Tagged)
    backend.tag = tag  # type: ignore[attr-defined]
    return backend


def reached(port: int) -> bytes:
    return echo_once(port, b"|")


def wait_reached(port: int, expected: bytes, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if reached(port) == expected:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"port {port} did not reach {expected!r}"
        time.sleep(0.2)


@pytest.fixture
def site(router_available: None) -> str:
    return init_linkable_site("east")


def test_connector_without_host_is_this_host(site: str) -> None:
    backend = tagged_backend(b"here")
    created = ok("connector", "create", "svc", str(backend.port), "-n", site)
    assert created.stdout == f"Connector svc created to 127.0.0.1:{backend.port} for svc.\n"
    listener_port = free_port()
    ok("listener", "create", "svc", str(listener_port), "-n", site)
    wait_reached(listener_port, b"here|")


def test_updates_reach_the_running_router(site: str) -> None:
    first, second = tagged_backend(b"first"), tagged_backend(b"second")
    ok("connector", "create", "svc", str(first.port), "--host", "127.0.0.1", "-n", site)
    old_port = free_port()
    ok("listener", "create", "svc", str(old_port), "-n", site)
    wait_reached(old_port, b"first|")
    instance = status_json("site", "status", "-n", site)["router"]["instance"]

    # The connector moves to another backend: new flows go there.
    assert ok("connector", "update", "svc", "--port", str(second.port), "-n", site).stdout == (
        f"Connector svc updated: to 127.0.0.1:{second.port} for svc.\n"
    )
    wait_reached(old_port, b"second|")
    # The listener moves to another port: the old one closes, the key stays.
    new_port = free_port()
    ok("listener", "update", "svc", "--port", str(new_port), "-n", site)
    wait_reached(new_port, b"second|")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", old_port), timeout=2).close()
    (listener,) = status_json("listener", "list", "-n", site)
    assert (listener["routingKey"], listener["host"], listener["port"]) == (
        "svc",
        "127.0.0.1",
        new_port,
    )
    # A key no connector serves: the listener closes its port until one does.
    ok("listener", "update", "svc", "--routing-key", "other", "-n", site)
    ok("connector", "update", "svc", "--routing-key", "other", "--port", str(first.port),
       "-n", site)  # fmt: skip
    wait_reached(new_port, b"first|")
    # All of it without a restart.
    assert status_json("site", "status", "-n", site)["router"]["instance"] == instance


def test_bad_updates_are_one_line_and_change_nothing(site: str, busy_port: int) -> None:
    backend = tagged_backend(b"b")
    ok("connector", "create", "svc", str(backend.port), "-n", site)
    port = free_port()
    ok("listener", "create", "svc", str(port), "-n", site)
    before = (status_json("listener", "list", "-n", site), status_json("connector", "list",
              "-n", site))  # fmt: skip
    assert fails("listener", "update", "nope", "--port", "1234", "-n", site) == (
        "no listener named nope in namespace east"
    )
    assert fails("connector", "update", "svc", "-n", site) == (
        "nothing to change: see 'connector update --help' for what can be"
    )
    assert fails("listener", "update", "svc", "--port", str(busy_port), "-n", site) == (
        f"port {busy_port} for listener svc is in use on 127.0.0.1"
    )
    assert fails("connector", "update", "svc", "--port", "70000", "-n", site) == (
        "invalid connector svc: port: Input should be less than or equal to 65535"
    )
    after = (status_json("listener", "list", "-n", site), status_json("connector", "list",
             "-n", site))  # fmt: skip
    assert after == before
    wait_reached(port, b"b|")


def test_link_update_changes_its_cost(site: str, tmp_path: Path) -> None:
    ok("site", "init", "west", "-n", "west")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", site).stdout)
    ok("link", "create", str(link_file), "--name", "to-east", "-n", "west")
    assert ok("link", "update", "to-east", "--cost", "7", "-n", "west").stdout == (
        "Link to-east updated (cost 7).\n"
    )
    deadline = time.monotonic() + 15
    while True:
        (link,) = status_json("link", "status", "-n", "west")
        if (link["up"] and link["cost"] == 7) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert link["up"] is True and link["cost"] == 7, link
    assert fails("link", "update", "to-east", "-n", "west") == (
        "nothing to change: give --cost, --proxy or --no-proxy"
    )
    assert fails("link", "update", "nope", "--cost", "2", "-n", "west") == (
        "no link named nope in namespace west"
    )


def test_a_listener_s_observer_is_set_and_changed(site: str, skupper_home: Path) -> None:
    port = free_port()
    ok("listener", "create", "web", str(port), "--observer", "none", "-n", site)
    (listener,) = status_json("listener", "list", "-n", site)
    assert listener["observer"] == "none"
    ok("listener", "update", "web", "--observer", "http2", "-n", site)
    config = json.loads(
        (namespace_folder(skupper_home, site) / "runtime/skrouterd.json").read_text()
    )
    (tcp,) = [attributes for kind, attributes in config if kind == "tcpListener"]
    assert tcp["observer"] == "http2"
    result = run("listener", "update", "web", "--observer", "http3", "-n", site)
    assert result.exit_code == 2 and "http3" in result.output
    assert status_json("listener", "list", "-n", site)[0]["observer"] == "http2"
