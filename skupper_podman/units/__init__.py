"""A site's systemd units: rendering them from templates (render.py) and installing them
(install.py). Site management calls in; nothing here imports the CLI."""

from skupper_podman.units.install import install, uninstall, unit_folder, write_units
from skupper_podman.units.render import UnitFile, UnitKind, Units, generate_units

__all__ = [
    "UnitFile",
    "UnitKind",
    "Units",
    "generate_units",
    "install",
    "uninstall",
    "unit_folder",
    "write_units",
]
