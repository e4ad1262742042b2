"""The seam between the container platform and a container engine's API.

`Engine` is everything the site needs from Podman or Docker: images, one network per
site, containers made from a `ContainerSpec`, signals, logs, and finding and removing
everything that carries given labels. `podman.py` implements it with podman-py and
`docker.py` with docker-py, both on `compat.py` (what the two libraries' docker-shaped
APIs have in common); nothing else imports those libraries. The engines' raw dicts are
read only in those three modules, and become the small views below.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

LABEL_PREFIX = "io.skupper-podman"
LABEL_SITE_ID = f"{LABEL_PREFIX}.site-id"
LABEL_SITE = f"{LABEL_PREFIX}.site"
LABEL_NAMESPACE = f"{LABEL_PREFIX}.namespace"
LABEL_COMPONENT = f"{LABEL_PREFIX}.component"
LABEL_LISTENER = f"{LABEL_PREFIX}.listener"


class ContainerState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    RESTARTING = "restarting"
    PAUSED = "paused"
    EXITED = "exited"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, text: str) -> ContainerState:
        try:
            return cls(text.lower())
        except ValueError:
            # Podman says "stopped" or "configured" where Docker says "exited"/"created".
            return {"stopped": cls.EXITED, "configured": cls.CREATED}.get(text.lower(), cls.UNKNOWN)


@dataclass(frozen=True)
class PortBinding:
    """`host_ip:host_port` on the host forwards to `container_port` (TCP)."""

    host_ip: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class BindMount:
    source: Path
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container; engines translate it, nothing more."""

    name: str
    image: str
    command: tuple[str, ...]
    labels: dict[str, str]
    network: str
    aliases: tuple[str, ...] = ()
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[BindMount, ...] = ()
    extra_hosts: dict[str, str] = field(default_factory=dict)
    restart_policy: str = "unless-stopped"
    user: str | None = None
    keep_user_id: bool = False  # rootless Podman: the container's user is this user
    health_check: bool = True  # False: ignore the image's HEALTHCHECK


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    state: ContainerState
    health: str | None  # "healthy", "unhealthy", "starting", or None without a check
    labels: dict[str, str]
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Labelled:
    """What carries a set of labels, by kind (names)."""

    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.containers or self.networks or self.volumes)


class Engine(Protocol):
    """One connection to a container engine (a REST socket)."""

    name: str  # "podman" or "docker"
    endpoint: str
    rootless: bool

    def version(self) -> str: ...

    def unusable_reason(self) -> str | None:
        """Why a site cannot run on this engine as it is set up (None: it can)."""

    def has_image(self, reference: str) -> bool: ...

    def build_image(
        self, context: Path, containerfile: str, tag: str, build_args: dict[str, str]
    ) -> None: ...

    def create_network(self, name: str, labels: dict[str, str]) -> None: ...

    def network_exists(self, name: str) -> bool: ...

    def run_container(self, spec: ContainerSpec) -> None:
        """Create and start a container; remove it again if it cannot start."""
        ...

    def container(self, name: str) -> ContainerInfo | None: ...

    def signal(self, name: str, signal: str) -> None: ...

    def logs(self, name: str, lines: int) -> str: ...

    def run_in(self, name: str, command: tuple[str, ...]) -> tuple[int, str]:
        """Run a command in a running container: its exit code and output."""
        ...

    def remove_container(self, name: str, stop_timeout: int) -> None:
        """Stop (SIGTERM, then SIGKILL after the timeout) and remove; no error if absent."""
        ...

    def find(self, labels: dict[str, str]) -> Labelled: ...

    def remove_labelled(self, labels: dict[str, str], stop_timeout: int) -> Labelled:
        """Remove every container, then network and volume carrying all `labels`."""
        ...

    def close(self) -> None: ...


def carries(found: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    """Whether `found` has every label of `wanted` with the same value."""
    present = found or {}
    return all(present.get(key) == value for key, value in wanted.items())


def first_label_filter(labels: dict[str, str]) -> str:
    """The engines filter on one label server-side; `carries` checks the rest."""
    key, value = next(iter(labels.items()))
    return f"{key}={value}"
