"""`skupper-podman system`: run an existing site (start, stop, reload, status) and its
systemd units (generate, install, uninstall)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skupper_podman import units as systemd_units
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Format, Namespace
from skupper_podman.cli.output import OutputFormat, output
from skupper_podman.cli.site import show_status
from skupper_podman.site import site_status
from skupper_podman.site import system as site_system
from skupper_podman.site.migration import open_site
from skupper_podman.site.unit_values import unit_values

app = typer.Typer(
    help="Start, stop and reload a site; run it from systemd (survives reboots).",
    no_args_is_help=True,
)

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
    units = _units(namespace, unit_type)
    installed = systemd_units.install(units)
    for path in installed.files:
        output.say(f"installed {path}")
    for unit in installed.enabled:
        output.say(f"enabled {unit}")
    for warning in installed.warnings:
        output.warn(warning)
    if site_system.take_over(namespace, units):
        output.say(f"the running router is now run by systemd ({units.main_service})")


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


def _done(change: site_system.Change, did: str, namespace: str) -> None:
    how = " (by systemd)" if change.runner is site_system.Runner.SYSTEMD else ""
    if change.changed:
        output.say(f"Site in namespace {namespace} {did}{how}.")
    else:
        output.say(f"Site in namespace {namespace}: {change.detail}.")


@app.command("start")
def start(*, namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Start a stopped site's router, with its identity, certificates, links and services."""
    _done(site_system.start_site(namespace), "started", namespace)


@app.command("stop")
def stop(*, namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Stop the site's router; everything of the site stays for 'system start'."""
    _done(site_system.stop_site(namespace), "stopped", namespace)


@app.command("reload")
def reload(*, namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Render the router config (and installed units) from the site's resources again;
    a running router re-reads it without dropping connections."""
    _done(site_system.reload_site(namespace), "reloaded", namespace)


@app.command("status")
def status(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """The site's status, and whether systemd runs it."""
    found = site_status(namespace)
    show_status(found, output_format, {"units": site_system.units_state(namespace)})
