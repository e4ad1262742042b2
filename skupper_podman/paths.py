"""Where a namespace's files live (see docs/architecture.md, "Namespace layout").

`SKUPPER_PODMAN_HOME` overrides the whole `.../skupper-podman` folder (tests use it);
otherwise root uses /var/lib/skupper-podman and other users $XDG_DATA_HOME/skupper-podman.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from skupper_podman.errors import SkupperError

DEFAULT_NAMESPACE = "default"

# A DNS label (RFC 1123): what Kubernetes accepts as a namespace name.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def home() -> Path:
    """The skupper-podman data folder for this user."""
    override = os.environ.get("SKUPPER_PODMAN_HOME")
    if override:
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/lib/skupper-podman")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "skupper-podman"


def validate_namespace(name: str) -> str:
    """Return `name` if it is a valid namespace name, else raise SkupperError."""
    if not _DNS_LABEL.match(name):
        raise SkupperError(
            f"invalid namespace {name!r}: use lower-case letters, digits and '-' "
            "(at most 63, starting and ending with a letter or digit)"
        )
    return name


@dataclass(frozen=True)
class NamespacePaths:
    """The folders and files of one namespace."""

    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def resources(self) -> Path:
        return self.root / "resources"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def runtime(self) -> Path:
        return self.root / "runtime"

    @property
    def router_config(self) -> Path:
        return self.runtime / "skrouterd.json"

    @property
    def platform_file(self) -> Path:
        return self.runtime / "platform.json"

    @property
    def pid_file(self) -> Path:
        return self.runtime / "router.pid"

    @property
    def log_file(self) -> Path:
        return self.runtime / "router.log"

    @property
    def grants(self) -> Path:
        """Access grants, one JSON file each (router/grant_records.py)."""
        return self.root / "grants"

    @property
    def sockets(self) -> Path:
        """Unix sockets the router serves to this host (metrics, on container platforms)."""
        return self.root / "sockets"

    @property
    def metrics_socket(self) -> Path:
        return self.sockets / "metrics.sock"

    @property
    def issued(self) -> Path:
        """Client certificates handed out by `link generate`, one JSON file each."""
        return self.root / "issued"

    @property
    def revoked_file(self) -> Path:
        """Revoked client certificate fingerprints, one a line (read by the router)."""
        return self.root / "revoked.txt"

    def resource_file(self, kind: str, name: str) -> Path:
        return self.resources / f"{kind}-{name}.yaml"


def namespace_paths(namespace: str) -> NamespacePaths:
    """The paths of `namespace` (validated); nothing is created."""
    return NamespacePaths(home() / "namespaces" / validate_namespace(namespace))
