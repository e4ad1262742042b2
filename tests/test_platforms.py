"""Platform selection and engine errors without a real engine (tests/engines/ has the
real ones): one clear line, and nothing left on disk."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from skupper_podman import engines
from skupper_podman.errors import SkupperError
from skupper_podman.platforms import select_platform
from skupper_podman.router.config_file import entity_pair
from skupper_podman.routerconfig import build_router_config
from tests.cli_helpers import fails, files_under


@pytest.fixture
def no_engines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Default sockets that do not exist."""
    monkeypatch.delenv("CONTAINER_ENDPOINT", raising=False)
    missing = tmp_path / "no-engine"
    monkeypatch.setattr(
        engines, "default_endpoint", lambda engine: f"unix://{missing}/{engine}.sock"
    )
    return missing


def test_default_platform_is_linux_without_engines(no_engines: Path) -> None:
    assert select_platform(None).name == "linux"


@pytest.mark.parametrize("engine", ["podman", "docker"])
def test_engine_socket_missing(engine: str, no_engines: Path, skupper_home: Path) -> None:
    message = fails("site", "init", "--platform", engine)
    assert message.startswith(f"{engine} is not")
    assert f"no socket unix://{no_engines}/{engine}.sock" in message
    assert "start" in message and ("podman system service" in message or "dockerd" in message)
    assert files_under(skupper_home) == []


def test_explicit_endpoint_that_does_not_answer(tmp_path: Path, skupper_home: Path) -> None:
    # A socket that accepts and closes: no engine speaks there.
    path = tmp_path / "mute.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mute:
        mute.bind(str(path))
        mute.listen()
        message = fails("site", "init", "--container-endpoint", str(path))
    assert message.startswith(f"no container engine answers at unix://{path}")
    assert files_under(skupper_home) == []


def test_endpoint_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONTAINER_ENDPOINT", str(tmp_path / "x.sock"))
    assert engines.chosen_endpoint(None) == f"unix://{tmp_path}/x.sock"
    assert engines.chosen_endpoint("tcp://127.0.0.1:1") == "tcp://127.0.0.1:1"


def test_default_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    assert engines.default_endpoint("docker") == "unix:///var/run/docker.sock"
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert engines.default_endpoint("podman") == "unix:///run/podman/podman.sock"
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert engines.default_endpoint("podman") == "unix:///run/user/1000/podman/podman.sock"


def test_old_podman_is_refused() -> None:
    class OldPodman:
        name = "podman"

        def version(self) -> str:
            return "3.4.4"

        def close(self) -> None:
            pass

    with pytest.raises(SkupperError, match=r"Podman 3.4.4 is too old: .* 4.0 or newer"):
        engines._require_podman_version(OldPodman())  # type: ignore[arg-type]


def test_container_config_binds_inside_the_container(skupper_home: Path) -> None:
    from skupper_podman import resources as res

    site = res.Site(metadata=res.Metadata(name="s"), spec=res.SiteSpec())
    listener = res.Listener(
        metadata=res.Metadata(name="db"),
        spec=res.ListenerSpec(routing_key="db", host="127.0.0.1", port=5432),
    )
    resources = res.SiteResources.from_resources([site, listener], "test")
    for platform, host in (("linux", "127.0.0.1"), ("podman", "0.0.0.0"), ("docker", "0.0.0.0")):
        pairs = map(
            entity_pair,
            build_router_config(resources, namespace="n", platform=platform, management_port=1234),
        )
        entities = {kind: attrs for kind, attrs in pairs if kind in ("tcpListener", "listener")}
        assert entities["tcpListener"]["host"] == host
        assert entities["listener"]["host"] == host


class _SlowPodman(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A Podman API socket that answers /info at once and everything else after a delay."""

    # The fixture's teardown waits for every answer in flight: an answer written after its
    # client gave up must not print a traceback into a later test's captured output.
    daemon_threads = False
    block_on_close = True
    delay = 1.5

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client timed out and left (what the timeout test wants): nothing to say


class _SlowPodmanHandler(http.server.BaseHTTPRequestHandler):
    def address_string(self) -> str:  # a unix socket has no client address
        return "local"

    def log_message(self, *_args: object) -> None:
        pass

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.endswith("/info"):
            self._answer(200, {"version": {"Version": "4.3.1"}, "host": {"security": {}}})
            return
        time.sleep(_SlowPodman.delay)
        self._answer(200, {"Name": "skupper-x", "Id": "1", "labels": {}})


@pytest.fixture
def slow_podman(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "podman.sock"
    server = _SlowPodman(str(path), _SlowPodmanHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"unix://{path}"
    server.shutdown()
    server.server_close()


def test_engine_calls_outlast_the_connect_timeout(slow_podman: str) -> None:
    """Only connecting has the short timeout: a create that takes longer (vfs storage
    copies the image) is waited for."""
    from skupper_podman.engines.podman import PodmanEngine

    engine = PodmanEngine.connect(slow_podman, timeout=0.5)
    try:
        assert engine.network_exists("skupper-x")  # answered after 1.5 s
    finally:
        engine.close()


def test_an_engine_call_without_answer_says_why(slow_podman: str) -> None:
    import podman
    from podman import errors as podman_errors

    from skupper_podman.engines.compat import explain

    client = podman.PodmanClient(base_url=slow_podman, timeout=0.2)
    try:
        with pytest.raises(podman_errors.APIError) as raised:
            client.networks.exists("skupper-x")
    finally:
        client.close()  # type: ignore[no-untyped-call]
    assert str(raised.value.explanation) == "GET operation failed"  # podman-py's words
    message = explain(raised.value)
    assert message.startswith("GET operation failed: ReadTimeout: ")
    assert "read timeout=0.2" in message and "\n" not in message
