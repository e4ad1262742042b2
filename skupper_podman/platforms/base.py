"""The seam between site management and the thing that runs a site's router.

A platform starts the router with the namespace's `runtime/skrouterd.json`, stops it,
makes it re-read its config (SIGHUP) and reports whether it runs. `linux` runs a
background process; `podman` and `docker` will run a container with the namespace's
folders mounted (the config's relative paths make that work unchanged).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from skupper_podman.errors import SkupperError
from skupper_podman.paths import NamespacePaths

PLATFORM_NAMES = ("linux", "podman", "docker")
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


class Platform(Protocol):
    """Runs one site's router. Every method takes the site's namespace paths."""

    name: str

    def start(self, site: NamespacePaths) -> None:
        """Start the router in the background; return once it is launched."""
        ...

    def stop(self, site: NamespacePaths) -> None:
        """Stop the router and wait for it to exit; no error if it is not running."""
        ...

    def reload(self, site: NamespacePaths) -> None:
        """Make the running router re-read its config file (SIGHUP)."""
        ...

    def status(self, site: NamespacePaths) -> RouterStatus:
        """Whether the router runs (process or container state), without side effects."""
        ...


def select_platform(name: str | None) -> Platform:
    """The platform called `name`; None means the default (linux)."""
    chosen = name or DEFAULT_PLATFORM
    if chosen == "linux":
        from skupper_podman.platforms.linux import LinuxPlatform

        return LinuxPlatform()
    if chosen in ("podman", "docker"):
        raise SkupperError(f"platform {chosen!r} is not available yet: use --platform linux")
    raise SkupperError(f"unknown platform {chosen!r}: choose one of {', '.join(PLATFORM_NAMES)}")
