"""The systemd units of a site, rendered from the templates in `templates/` (the
repository's top-level `systemd/` points there, so they ship with the package).

Templates hold `@name@` placeholders; a placeholder that renders empty drops its line.
What each platform gets:
- linux: one service running `skupper-router --config runtime/skrouterd.json`;
- podman 4.4 and newer: quadlet files, a `.network`, a `.volume` (the namespace folder,
  bound), the router `.container` and one `.container` per listener forwarder, the same
  containers `site init --platform podman` makes (platforms/container.py);
- docker, and podman older than 4.4 (no quadlet): one service that starts and stops the
  site's containers by their site label.
"""

from __future__ import annotations

import enum
import importlib.resources
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from skupper_podman.engines.base import LABEL_LISTENER, LABEL_SITE_ID, ContainerSpec
from skupper_podman.errors import SkupperError

QUADLET_MIN_PODMAN = (4, 4)
_PLACEHOLDER = re.compile(r"@([a-z_]+)@")


class UnitKind(enum.StrEnum):
    AUTO = "auto"
    QUADLET = "quadlet"
    SERVICE = "service"


@dataclass(frozen=True)
class UnitFile:
    name: str
    text: str

    @property
    def is_quadlet(self) -> bool:
        return self.name.endswith((".container", ".network", ".volume"))


@dataclass(frozen=True)
class Units:
    """A site's unit files, the unit to enable or start, and what the user should know."""

    namespace: str
    platform: str
    files: tuple[UnitFile, ...]
    main_service: str
    notes: tuple[str, ...] = field(default=())

    @property
    def quadlet(self) -> bool:
        return any(f.is_quadlet for f in self.files)


@dataclass(frozen=True)
class LinuxSite:
    """What the units of a site whose router runs as a local process need."""

    name: str
    namespace: str
    rootless: bool
    runtime: Path
    pid_file: Path
    config: Path
    log_file: Path


@dataclass(frozen=True)
class ContainerSite:
    """What the units of a site whose router runs in a container need: the containers as
    the site's platform makes them (``router``, one per listener forwarder)."""

    name: str
    namespace: str
    rootless: bool
    engine: str
    site_id: str
    router: ContainerSpec
    site_mount: str  # where the router container mounts the site folder
    listeners: tuple[ContainerSpec, ...]
    network_labels: dict[str, str]
    volume_labels: dict[str, str]


def template(name: str) -> str:
    return importlib.resources.files(__package__).joinpath("templates", name).read_text()


def render(name: str, values: dict[str, str]) -> str:
    """Fill a template; lines whose only content is an empty placeholder go away."""
    lines = []
    for line in template(name).splitlines():
        missing = [m for m in _PLACEHOLDER.findall(line) if m not in values]
        if missing:
            raise SkupperError(f"template {name}: no value for @{missing[0]}@")
        filled = _PLACEHOLDER.sub(lambda m: values[m.group(1)], line)
        if _PLACEHOLDER.fullmatch(line.strip()) and not filled.strip():
            continue
        lines.append(filled)
    return "\n".join(lines) + "\n"


def unit_argument(value: str) -> str:
    """One command-line word for a unit file: quoted if needed, `$` and `%` escaped."""
    escaped = value.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def service_name(namespace: str) -> str:
    return f"skupper-{namespace}.service"


def wanted_by(rootless: bool) -> str:
    return "default.target" if rootless else "multi-user.target"


def router_program() -> str:
    """The `skupper-router` next to this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).parent / "skupper-router"
    if beside.exists():
        return str(beside)
    found = shutil.which("skupper-router")
    if found is None:
        raise SkupperError("skupper-router is not installed next to skupper-podman")
    return found


def podman_version() -> tuple[int, ...] | None:
    """The version of the podman on PATH (`podman --version`), None without podman."""
    program = shutil.which("podman")
    if program is None:
        return None
    try:
        result = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", result.stdout)
    return tuple(int(part) for part in found.groups() if part is not None) if found else None


def generate_units(site: LinuxSite | ContainerSite, *, kind: UnitKind = UnitKind.AUTO) -> Units:
    """The units that run ``site`` on its platform."""
    if isinstance(site, LinuxSite):
        if kind is UnitKind.QUADLET:
            raise SkupperError("quadlet units are for the podman platform; this site runs on linux")
        return _linux_units(site)
    notes: list[str] = []
    if site.engine == "podman" and kind is not UnitKind.SERVICE:
        version = podman_version() if kind is UnitKind.AUTO else None
        if version is None or version >= QUADLET_MIN_PODMAN:
            if version is None and kind is UnitKind.AUTO:
                notes.append("podman is not on PATH: writing quadlet units (Podman 4.4 or newer)")
            return _quadlet_units(site, notes)
        shown = ".".join(str(part) for part in version)
        notes.append(
            f"podman {shown} has no quadlet (it came with 4.4): writing a plain service unit "
            "that starts and stops the site's containers"
        )
    elif kind is UnitKind.QUADLET:
        raise SkupperError(
            f"quadlet units are for the podman platform; this site runs on {site.engine}"
        )
    return _engine_units(site, notes)


def _common(site: LinuxSite | ContainerSite) -> dict[str, str]:
    return {"site": site.name, "namespace": site.namespace, "wanted_by": wanted_by(site.rootless)}


def _linux_units(site: LinuxSite) -> Units:
    values = _common(site) | {
        "runtime": unit_argument(str(site.runtime)),
        "pid_file": unit_argument(str(site.pid_file)),
        "router": unit_argument(router_program()),
        "config": unit_argument(str(site.config)),
        "log_file": str(site.log_file).replace("%", "%%"),
    }
    name = service_name(site.namespace)
    text = render("skupper-router-linux.service", values)
    return Units(site.namespace, "linux", (UnitFile(name, text),), name)


def _engine_units(site: ContainerSite, notes: list[str]) -> Units:
    program = shutil.which(site.engine) or f"/usr/bin/{site.engine}"
    values = _common(site) | {
        "engine_name": site.engine,
        "engine": unit_argument(program),
        "engine_unit": "docker.service" if site.engine == "docker" else "",
        "site_label": unit_argument(f"{LABEL_SITE_ID}={site.site_id}"),
        "router_container": site.router.name,
    }
    name = service_name(site.namespace)
    text = render("skupper-router-engine.service", values)
    return Units(site.namespace, site.engine, (UnitFile(name, text),), name, tuple(notes))


# --- Podman quadlet ---------------------------------------------------------------------


def qualified_image(image: str) -> str:
    """Podman keeps a locally built `name:tag` as `localhost/name:tag`; quadlet wants the
    full name (a short name would make systemd ask registries for it at boot)."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"localhost/{image}" if "/" not in image else image


def _key_lines(key: str, values: list[str]) -> str:
    return "\n".join(f"{key}={value}" for value in values)


def _label_lines(labels: dict[str, str]) -> str:
    return _key_lines("Label", [unit_argument(f"{k}={v}") for k, v in sorted(labels.items())])


def _publish_lines(spec: ContainerSpec) -> str:
    return _key_lines(
        "PublishPort", [f"{p.host_ip}:{p.host_port}:{p.container_port}" for p in spec.ports]
    )


def _quadlet_units(site: ContainerSite, notes: list[str]) -> Units:
    common = _common(site)
    base = f"skupper-{site.namespace}"
    network_unit, volume_unit = f"{base}.network", f"{base}-site.volume"
    router_unit = f"{base}-router.container"
    router = site.router
    # The site folder comes from the volume unit; other mounts (the grant server's
    # read-write grants/) are bind mounts of their own.
    (mount,) = (m for m in router.mounts if m.target == site.site_mount)
    extra_volumes = _key_lines(
        "Volume",
        [
            unit_argument(f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}")
            for m in router.mounts
            if m.target != site.site_mount
        ],
    )
    files = [
        UnitFile(
            network_unit,
            render(
                "skupper-site.network",
                common
                | {
                    "network": router.network,
                    "labels": _label_lines(site.network_labels),
                },
            ),
        ),
        UnitFile(
            volume_unit,
            render(
                "skupper-site.volume",
                common
                | {
                    "volume": f"{base}-site",
                    "site_folder": unit_argument(str(mount.source)),
                    "mount": mount.target,
                    "labels": _label_lines(site.volume_labels),
                },
            ),
        ),
    ]
    user_lines = []
    if router.user is not None:
        user_lines.append(f"User={router.user}")
    if router.keep_user_id:
        user_lines.append("UserNS=keep-id")
    podman = shutil.which("podman") or "/usr/bin/podman"
    files.append(
        UnitFile(
            router_unit,
            render(
                "skupper-router.container",
                common
                | {
                    "container": router.name,
                    "image": qualified_image(router.image),
                    "network_unit": network_unit,
                    "alias": router.aliases[0],
                    "volume_unit": volume_unit,
                    "mount": mount.target,
                    "extra_volumes": extra_volumes,
                    "publish": _publish_lines(router),
                    "labels": _label_lines(router.labels),
                    "user": "\n".join(user_lines),
                    "podman": unit_argument(podman),
                },
            ),
        )
    )
    for spec in site.listeners:
        name = spec.labels[LABEL_LISTENER]
        files.append(
            UnitFile(
                f"{base}-listener-{name}.container",
                render(
                    "skupper-listener.container",
                    common
                    | {
                        "listener": name,
                        "router_service": f"{base}-router.service",
                        "container": spec.name,
                        "image": qualified_image(spec.image),
                        "exec": shlex.join(spec.command),
                        "network_unit": network_unit,
                        "aliases": _key_lines(
                            "PodmanArgs", [f"--network-alias {a}" for a in spec.aliases]
                        )
                        + "\nPodmanArgs=--no-healthcheck",
                        "publish": _publish_lines(spec),
                        "labels": _label_lines(spec.labels),
                    },
                ),
            )
        )
    notes.append(
        "listener forwarders are units too: run 'system install' again after adding or "
        "removing a listener"
    )
    return Units(site.namespace, "podman", tuple(files), f"{base}-router.service", tuple(notes))
