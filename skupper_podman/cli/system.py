"""`skupper-podman system`: the site's systemd units (generate, install, uninstall)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skupper_podman import units as systemd_units
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Namespace
from skupper_podman.cli.output import output
from skupper_podman.site.store import open_site
from skupper_podman.site.unit_values import unit_values

app = typer.Typer(help="Run the site from systemd (survives reboots).", no_args_is_help=True)

Kind = Annotated[
    systemd_units.UnitKind,
    typer.Option(
        "--unit-type", help="quadlet (Podman 4.4+), service, or auto (by the podman version)."
    ),
]


def _units(namespace: str, kind: systemd_units.UnitKind) -> systemd_units.Units:
    units = systemd_units.generate_units(unit_values(open_site(namespace)), kind=kind)
    for note in units.notes:
        output.hint(f"note: {note}")
    return units


@app.command("generate")
def generate(
    *,
    output_dir: Annotated[
        Path | None, typer.Option("--output", help="Write the unit files into this folder.")
    ] = None,
    unit_type: Kind = systemd_units.UnitKind.AUTO,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Print the site's unit files, or write them into --output DIR."""
    units = _units(namespace, unit_type)
    if output_dir is None:
        for index, unit in enumerate(units.files):
            output.raw(("\n" if index else "") + f"# --- {unit.name}\n{unit.text}")
        return
    for path in systemd_units.write_units(units, output_dir):
        output.say(f"wrote {path}")


@app.command("install")
def install(
    *, unit_type: Kind = systemd_units.UnitKind.AUTO, namespace: Namespace = DEFAULT_NAMESPACE
) -> None:
    """Put the site's units where systemd finds them and enable them."""
    installed = systemd_units.install(_units(namespace, unit_type))
    for path in installed.files:
        output.say(f"installed {path}")
    for unit in installed.enabled:
        output.say(f"enabled {unit}")
    for warning in installed.warnings:
        output.warn(warning)


@app.command("uninstall")
def uninstall(
    *, unit_type: Kind = systemd_units.UnitKind.AUTO, namespace: Namespace = DEFAULT_NAMESPACE
) -> None:
    """Disable and remove the site's units (the site itself stays)."""
    removed, problem = systemd_units.uninstall(_units(namespace, unit_type))
    for path in removed:
        output.say(f"removed {path}")
    if not removed:
        output.say(f"no units of namespace {namespace} installed")
    if problem is not None and removed:
        output.warn(f"{problem}: systemd was not told")
