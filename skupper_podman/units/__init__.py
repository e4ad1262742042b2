"""A site's systemd units: rendering them from templates (render.py) and installing them
(install.py), from plain values the site gives (site/unit_values.py); nothing here opens
a site's store or imports the CLI."""

from skupper_podman.units.install import install, uninstall, unit_folder, write_units
from skupper_podman.units.render import (
    ContainerSite,
    LinuxSite,
    UnitFile,
    UnitKind,
    Units,
    generate_units,
)

__all__ = [
    "ContainerSite",
    "LinuxSite",
    "UnitFile",
    "UnitKind",
    "Units",
    "generate_units",
    "install",
    "uninstall",
    "unit_folder",
    "write_units",
]
