"""Which platform runs a site's router: the one asked for, else the default (podman when
its socket answers, else docker, else linux). The implementations are imported only when
chosen (the container one brings the engine clients)."""

from __future__ import annotations

from skupper_podman.errors import SkupperError
from skupper_podman.platforms.base import (
    CONTAINER_PLATFORMS,
    DEFAULT_PLATFORM,
    PLATFORM_NAMES,
    Platform,
)


def select_platform(
    name: str | None, *, endpoint: str | None = None, image: str | None = None
) -> Platform:
    """The platform called `name`. None means the default: podman when its socket
    answers, else docker, else linux. `endpoint` and `image` matter to podman/docker."""
    from skupper_podman import engines

    chosen_endpoint = engines.chosen_endpoint(endpoint)
    chosen = name
    if chosen is None:
        chosen = engines.answering_engine(chosen_endpoint)
        if chosen is None and chosen_endpoint is not None:
            raise SkupperError(
                f"no container engine answers at {chosen_endpoint}; {engines.start_hint('podman')}"
            )
        chosen = chosen or DEFAULT_PLATFORM
    if chosen == "linux":
        from skupper_podman.platforms.linux import LinuxPlatform

        return LinuxPlatform()
    if chosen in CONTAINER_PLATFORMS:
        from skupper_podman.platforms.container import ContainerPlatform

        return ContainerPlatform(chosen, endpoint=chosen_endpoint, image=image)
    raise SkupperError(f"unknown platform {chosen!r}: choose one of {', '.join(PLATFORM_NAMES)}")
