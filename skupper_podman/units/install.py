"""Putting a site's units where systemd finds them, and taking them away again.

Quadlet files go to `~/.config/containers/systemd/` (rootless) or `/etc/containers/systemd/`
(root); systemd's quadlet generator turns them into services at `daemon-reload`, and their
`[Install]` section starts them at boot (generated units cannot be enabled). Plain
services go to `~/.config/systemd/user/` or `/etc/systemd/system/` and are enabled.
Every systemctl call first checks that systemd runs, so that a host without it gets one
clear line rather than systemctl's complaint.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from skupper_podman.errors import SkupperError
from skupper_podman.units.render import Units

SYSTEMD_RUNNING_MARKER = Path("/run/systemd/system")
LINGER_FOLDER = Path("/var/lib/systemd/linger")
SYSTEMCTL_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Installed:
    folder: Path
    files: tuple[Path, ...]
    enabled: tuple[str, ...]
    warnings: tuple[str, ...]


def rootless() -> bool:
    return os.geteuid() != 0


def unit_folder(quadlet: bool, *, as_user: bool | None = None) -> Path:
    user = rootless() if as_user is None else as_user
    if user:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        return config / ("containers/systemd" if quadlet else "systemd/user")
    return Path("/etc/containers/systemd" if quadlet else "/etc/systemd/system")


def systemd_problem() -> str | None:
    """Why systemctl cannot work here, or None."""
    if shutil.which("systemctl") is None:
        return "systemctl is not installed"
    if not SYSTEMD_RUNNING_MARKER.is_dir():
        return "systemd is not running on this host (no /run/systemd/system)"
    if rootless():
        runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
        if not (Path(runtime) / "systemd" / "private").exists():
            return f"there is no systemd user instance for {getpass.getuser()} (log in first)"
    return None


def systemctl(*arguments: str) -> None:
    command = ["systemctl", *(["--user"] if rootless() else []), *arguments]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SkupperError(f"{' '.join(command)} failed: {error}") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        detail = lines[-1] if lines else f"exit code {result.returncode}"
        raise SkupperError(f"{' '.join(command)} failed: {detail}")


def linger_warning() -> str | None:
    """Rootless units start at boot only if the user lingers; say how to turn it on."""
    if not rootless():
        return None
    user = getpass.getuser()
    if (LINGER_FOLDER / user).exists():
        return None
    return (
        f"lingering is off for {user}: the site starts when {user} logs in, not at boot; "
        f"turn it on with: loginctl enable-linger {user}"
    )


def write_units(units: Units, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in units.files:
        path = folder / unit.name
        path.write_text(unit.text)
        written.append(path)
    return written


def install(units: Units) -> Installed:
    """Write the units, reload systemd and enable plain services."""
    problem = systemd_problem()
    if problem is not None:
        raise SkupperError(
            f"{problem}: cannot install units; 'skupper-podman system generate --output DIR' "
            "writes them for a host that has systemd"
        )
    folder = unit_folder(units.quadlet)
    files = write_units(units, folder)
    systemctl("daemon-reload")
    enabled: tuple[str, ...] = ()
    if not units.quadlet:
        systemctl("enable", units.main_service)
        enabled = (units.main_service,)
    warning = linger_warning()
    return Installed(folder, tuple(files), enabled, (warning,) if warning else ())


def uninstall(units: Units) -> tuple[list[Path], str | None]:
    """Disable and remove the units; returns what was removed and why systemd was not
    told (None if it was)."""
    problem = systemd_problem()
    folder = unit_folder(units.quadlet)
    present = [folder / unit.name for unit in units.files if (folder / unit.name).exists()]
    if problem is None and not units.quadlet and present:
        systemctl("disable", units.main_service)
    for path in present:
        path.unlink()
    if problem is None and present:
        systemctl("daemon-reload")
    return present, problem
