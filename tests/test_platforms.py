"""Platform selection and engine errors without a real engine (tests/engines/ has the
real ones): one clear line, and nothing left on disk."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from skupper_podman import engines
from skupper_podman.errors import SkupperError
from skupper_podman.platforms import select_platform
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
        entities = dict(
            (kind, attributes)
            for kind, attributes in build_router_config(
                resources, namespace="n", platform=platform, management_port=1234
            )
            if kind in ("tcpListener", "listener")
        )
        assert entities["tcpListener"]["host"] == host
        assert entities["listener"]["host"] == host
