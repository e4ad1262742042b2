"""The seam between site management and the thing that runs a site's router.

A platform starts the router with the namespace's `runtime/skrouterd.json`, stops it,
makes it re-read its config (SIGHUP) and reports whether it runs. `linux` runs a
background process; `podman` and `docker` run a container with the namespace's folder
mounted read-only (the config's relative paths make that work unchanged) and publish
the site's ports on the host (`Exposure`; platforms/container.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from skupper_podman.paths import NamespacePaths

PLATFORM_NAMES = ("linux", "podman", "docker")
CONTAINER_PLATFORMS = ("podman", "docker")
DEFAULT_PLATFORM = "linux"


class RouterState(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class RouterStatus:
    """What the platform knows about a site's router process or container."""

    state: RouterState
    pid: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class HostPort:
    """A router port that must be reachable from the host (and, for listeners, by
    `aliases` from containers on the site network)."""

    name: str
    host: str
    port: int
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exposure:
    """What a site shows outside its router: the linux platform needs none of it (the
    router binds on the host itself); container platforms publish it."""

    site_name: str
    management_port: int
    link_ports: tuple[HostPort, ...] = ()  # fixed for the site's life
    listeners: tuple[HostPort, ...] = field(default=())  # change with every listener


class Platform(Protocol):
    """Runs one site's router. Every method takes the site's namespace paths."""

    name: str

    def start(self, site: NamespacePaths, exposure: Exposure) -> None:
        """Start the router in the background; return once it is launched."""
        ...

    def stop(self, site: NamespacePaths) -> None:
        """Stop the router and remove what the platform made; no error if nothing runs."""
        ...

    def reload(self, site: NamespacePaths, exposure: Exposure) -> None:
        """Make the running router re-read its config file (SIGHUP), and publish the
        listeners of `exposure`, without restarting the router."""
        ...

    def status(self, site: NamespacePaths) -> RouterStatus:
        """Whether the router runs (process or container state), without side effects."""
        ...

    def listener_problems(self, site: NamespacePaths) -> tuple[str, ...]:
        """Why a listener's connections cannot reach the router, one line each (none when
        the router itself accepts them)."""
        ...

    def share_files(self, site: NamespacePaths) -> None:
        """Files for the running router were written outside start and reload (a new
        grant): let the router's user read them."""
        ...

    def log_tail(self, site: NamespacePaths) -> str:
        """The router's last log line (to explain a failed start)."""
        ...

    def router_log(self, site: NamespacePaths, lines: int) -> str | None:
        """The router's last ``lines`` lines of log; None if it has no log to read."""
        ...

    def runtime_versions(self, site: NamespacePaths) -> dict[str, str]:
        """What runs the router besides our package: the engine and the router image on a
        container platform (empty for a plain process)."""
        ...


def last_log_line(log: str | None, missing: str) -> str:
    """A log's last line, for a one-line error (``missing`` when there is no log)."""
    if log is None:
        return missing
    lines = log.strip().splitlines()
    return lines[-1] if lines else "no log output"
