"""Container engines: where their sockets are, connecting with a clear error, and which
one answers (for the default platform).

Endpoints: `--container-endpoint`, else `CONTAINER_ENDPOINT`, else the engine's default
socket (rootless Podman `$XDG_RUNTIME_DIR/podman/podman.sock`, rootful Podman
`/run/podman/podman.sock`, Docker `/var/run/docker.sock`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from skupper_podman.engines.base import Engine
from skupper_podman.errors import SkupperError

ENGINE_NAMES = ("podman", "docker")
ENDPOINT_VARIABLE = "CONTAINER_ENDPOINT"
CONNECT_TIMEOUT_SECONDS = 10.0
PROBE_TIMEOUT_SECONDS = 3.0
MIN_PODMAN_VERSION = (4, 0)


def default_endpoint(engine: str) -> str:
    if engine == "docker":
        return "unix:///var/run/docker.sock"
    if os.geteuid() == 0:
        return "unix:///run/podman/podman.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return f"unix://{runtime}/podman/podman.sock"


def normalize_endpoint(endpoint: str) -> str:
    """A bare socket path becomes a unix:// URL."""
    return f"unix://{endpoint}" if endpoint.startswith("/") else endpoint


def chosen_endpoint(explicit: str | None) -> str | None:
    """The endpoint the user asked for (option, then environment), if any."""
    found = explicit or os.environ.get(ENDPOINT_VARIABLE) or None
    return normalize_endpoint(found) if found else None


def connect(engine: str, endpoint: str | None = None) -> Engine:
    """A connected engine, or a one-line SkupperError that says how to fix it."""
    url = chosen_endpoint(endpoint) or default_endpoint(engine)
    socket_path = _socket_path(url)
    if socket_path is not None and not socket_path.exists():
        raise SkupperError(f"{_missing(engine, url)}; {start_hint(engine)}")
    try:
        connected = _open(engine, url, CONNECT_TIMEOUT_SECONDS)
    except SkupperError:
        raise
    except Exception as error:  # the client libraries raise many kinds; all mean "no answer"
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SkupperError(
            f"{engine} is not answering at {url} ({detail}); {start_hint(engine)}"
        ) from None
    if engine == "podman":
        _require_podman_version(connected)
    return connected


def answering_engine(endpoint: str | None) -> str | None:
    """Which engine answers at `endpoint` (or at the default sockets): podman first."""
    for engine in ENGINE_NAMES:
        url = endpoint or default_endpoint(engine)
        socket_path = _socket_path(url)
        if socket_path is not None and not socket_path.exists():
            continue
        try:
            _open(engine, url, PROBE_TIMEOUT_SECONDS).close()
        except Exception:  # not this engine, or not answering: try the next
            continue
        return engine
    return None


def start_hint(engine: str) -> str:
    if engine == "docker":
        return "start Docker with 'systemctl enable --now docker' (or run 'dockerd')"
    if os.geteuid() == 0:
        return "start it with 'systemctl enable --now podman.socket' or 'podman system service'"
    return (
        "start it with 'systemctl --user enable --now podman.socket' "
        "or 'podman system service --time=0 &'"
    )


def _missing(engine: str, url: str) -> str:
    program = "dockerd" if engine == "docker" else "podman"
    if shutil.which(program) is None:
        return f"{engine} is not installed (no {program} program, no socket {url})"
    return f"{engine} is not running (no socket {url})"


def _socket_path(url: str) -> Path | None:
    return Path(url.removeprefix("unix://")) if url.startswith("unix://") else None


def _open(engine: str, url: str, timeout: float) -> Engine:
    library = "podman" if engine == "podman" else "docker"
    if importlib.util.find_spec(library) is None:
        raise SkupperError(
            f"the {library} Python library is missing (a dependency of skupper-podman): "
            "install skupper-podman again with pip"
        )
    if engine == "podman":
        from skupper_podman.engines.podman import PodmanEngine

        return PodmanEngine.connect(url, timeout)
    from skupper_podman.engines.docker import DockerEngine

    return DockerEngine.connect(url, timeout)


def _require_podman_version(engine: Engine) -> None:
    text = engine.version()
    try:
        found = tuple(int(part) for part in text.split("-")[0].split(".")[:2])
    except ValueError:
        return  # a development build: let it try
    if found < MIN_PODMAN_VERSION:
        engine.close()
        wanted = ".".join(str(p) for p in MIN_PODMAN_VERSION)
        raise SkupperError(
            f"Podman {text} is too old: skupper-podman needs Podman {wanted} or newer"
        )


__all__ = [
    "ENDPOINT_VARIABLE",
    "ENGINE_NAMES",
    "Engine",
    "answering_engine",
    "chosen_endpoint",
    "connect",
    "default_endpoint",
    "start_hint",
]
