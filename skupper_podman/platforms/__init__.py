"""Where a site's router runs: the `Platform` seam and its implementations."""

from skupper_podman.platforms.base import (
    PLATFORM_NAMES,
    Exposure,
    HostPort,
    Platform,
    RouterState,
    RouterStatus,
)
from skupper_podman.platforms.select import select_platform

__all__ = [
    "PLATFORM_NAMES",
    "Exposure",
    "HostPort",
    "Platform",
    "RouterState",
    "RouterStatus",
    "select_platform",
]
