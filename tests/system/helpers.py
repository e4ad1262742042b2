"""Reading unit files the way systemd does, running their command lines without systemd,
and a two-site network with traffic for the tests that bring sites up from units."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tests.cli_helpers import ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once

T = TypeVar("T")


def sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections: name -> [(key, value)] in order (comments dropped)."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = found.setdefault(stripped[1:-1], [])
            continue
        key, _, value = stripped.partition("=")
        current.append((key.strip(), value.strip()))
    return found


def values(text: str, section: str, key: str) -> list[str]:
    return [v for k, v in sections(text).get(section, []) if k == key]


def exec_argv(line: str) -> list[str]:
    """An Exec*= value as systemd runs it: prefixes dropped, words split, `$$` and `%%`
    unescaped (our units use no variables or other specifiers in their commands)."""
    command = line.lstrip("-@+!:")
    return [word.replace("$$", "$").replace("%%", "%") for word in shlex.split(command)]


def quadlet_dryrun(quadlet: Path, folder: Path, *, user: bool) -> dict[str, str]:
    """Run Podman's quadlet generator on `folder`; returns service name -> unit text."""
    command = [str(quadlet), "-dryrun", "-no-kmsg-log", *(["-user"] if user else [])]
    env = {**os.environ, "QUADLET_UNIT_DIRS": str(folder)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "rror" not in result.stderr, result.stderr
    parts = re.split(r"^---(\S+)---$", result.stdout, flags=re.M)
    return dict(zip(parts[1::2], (body.lstrip("\n") for body in parts[2::2]), strict=True))


def verify(systemd_analyze: str, files: list[Path]) -> None:
    """`systemd-analyze verify`: no complaint about any of `files`."""
    result = subprocess.run(
        [systemd_analyze, "verify", *(str(f) for f in files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not result.stderr.strip(), (result.stdout, result.stderr)


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(0.2)


@dataclass
class Network:
    """Site `hub` (link access, a connector to an echo backend) and a site linked to it
    with a listener for the backend's routing key."""

    backend: Backend
    listener_port: int

    def echo(self, payload: bytes) -> bytes | None:
        try:
            return echo_once(self.listener_port, payload, timeout=5)
        except OSError:
            return None


def make_network(tmp_path: Path, spoke: str | None) -> Network:
    """The hub, and (when `spoke` names a namespace) a linked site with a listener."""
    backend = Backend(EchoHandler)
    ok("site", "init", "hub", "-n", "hub", "--platform", "linux", "--link-access",
       "--bind-host", "127.0.0.1", "--port", str(free_port()))  # fmt: skip
    ok("connector", "create", "echo", str(backend.port), "--routing-key", "echo",
       "--host", "127.0.0.1", "-n", "hub")  # fmt: skip
    listener_port = free_port()
    if spoke is not None:
        link_file = tmp_path / "link.yaml"
        link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", "hub").stdout)
        ok("site", "init", spoke, "-n", spoke, "--platform", "linux")
        ok("link", "create", str(link_file), "--name", "to-hub", "-n", spoke)
        ok("listener", "create", "echo", str(listener_port), "--routing-key", "echo", "-n", spoke)
    return Network(backend, listener_port)


def link_up(namespace: str) -> bool:
    links = status_json("link", "status", "-n", namespace)
    return bool(links) and all(link["up"] for link in links)
