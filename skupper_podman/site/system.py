"""Running an existing site: `system start|stop|reload|status` and `system install`.

A site's identity, certificates, links and resources live in its namespace folder; the
router (a process or containers) is only what runs them. Starting makes the router again
from those files, stopping removes it and keeps them. When the site's units are installed
and systemd runs, start and stop go through systemctl, so that systemd and the CLI never
fight over one router; otherwise the platform runs the router itself.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass

from skupper_podman import units as systemd_units
from skupper_podman.errors import SkupperError
from skupper_podman.platforms import Exposure, RouterState
from skupper_podman.platforms.base import CONTAINER_PLATFORMS
from skupper_podman.site import ports
from skupper_podman.site.migration import open_site
from skupper_podman.site.runtime import (
    exposure,
    platform_of,
    reconfigure,
    wait_until_answering,
    write_router_config,
)
from skupper_podman.site.store import SiteStore
from skupper_podman.site.unit_values import unit_values
from skupper_podman.units.install import systemctl, systemd_problem


class Runner(enum.StrEnum):
    """Who starts and stops the site's router."""

    SYSTEMD = "systemd"
    PLATFORM = "platform"


@dataclass(frozen=True)
class Change:
    """What a start, stop or reload did: ``changed`` is False when there was nothing to do
    (already running, already stopped); ``runner`` says who did it."""

    changed: bool
    runner: Runner
    detail: str = ""


def installed_units(
    store: SiteStore, kind: systemd_units.UnitKind = systemd_units.UnitKind.AUTO
) -> systemd_units.Units | None:
    """The site's units if their files are where systemd finds them, else None."""
    units = systemd_units.generate_units(unit_values(store), kind=kind)
    folder = systemd_units.unit_folder(units.quadlet)
    present = all((folder / unit.name).exists() for unit in units.files)
    return units if present else None


def _systemd_units(store: SiteStore) -> systemd_units.Units | None:
    """The installed units when systemd can run them; None means the platform runs the
    router (no units, or no systemd on this host)."""
    if systemd_problem() is not None:
        return None
    with contextlib.suppress(SkupperError):
        return installed_units(store)
    return None


def _require_free_ports(shown: Exposure, store: SiteStore) -> None:
    """Each port the router binds on the host, free: one clear line if another program
    took one while the site was stopped (the router would only log it)."""
    facts = store.facts()
    wanted = [(f"link access ({port.name})", port.host, port.port) for port in shown.link_ports]
    wanted.append(("management", "127.0.0.1", facts.management_port))
    if facts.metrics_port is not None and facts.platform not in CONTAINER_PLATFORMS:
        wanted.append(("metrics", "127.0.0.1", facts.metrics_port))
    for what, host, port in wanted:
        if not ports.can_bind(host, port):
            raise SkupperError(
                f"port {port} for the site's {what} is in use on {host}: "
                "stop what holds it, then start the site again"
            )


def start_site(namespace: str) -> Change:
    """Start a stopped site's router from its files and wait until it answers; on failure
    nothing of the router is left running."""
    store = open_site(namespace)
    platform = platform_of(store)
    if platform.status(store.paths).state is RouterState.RUNNING:
        return Change(False, Runner.PLATFORM, "already running")
    facts, resources = store.facts(), store.load()
    shown = exposure(store, resources, facts)
    _require_free_ports(shown, store)
    write_router_config(store, facts, resources)
    units = _systemd_units(store)
    try:
        if units is not None:
            systemctl("start", units.main_service)
        else:
            # What a reboot or a crash left (stopped containers of the site, a stale pid
            # file) goes first: the platform makes the router anew from the site's files.
            platform.stop(store.paths)
            platform.start(store.paths, shown)
        wait_until_answering(store)
    except BaseException:
        if units is not None:
            with contextlib.suppress(SkupperError):
                systemctl("stop", units.main_service)
        platform.stop(store.paths)
        raise
    return Change(True, Runner.SYSTEMD if units is not None else Runner.PLATFORM)


def stop_site(namespace: str) -> Change:
    """Stop the site's router (its containers too); its files stay for the next start."""
    store = open_site(namespace)
    platform = platform_of(store)
    units = _systemd_units(store)
    if units is not None:
        systemctl("stop", units.main_service)
    running = platform.status(store.paths).state is RouterState.RUNNING
    # Also after systemctl: a router the platform started before the units were installed.
    platform.stop(store.paths)
    if units is not None:
        return Change(True, Runner.SYSTEMD)
    return Change(running, Runner.PLATFORM, "" if running else "not running")


def reload_site(namespace: str) -> Change:
    """Render the router config (and the installed units) from the resources again, and
    have a running router re-read it without a restart."""
    store = open_site(namespace)
    units = _systemd_units(store)
    if units is not None:
        systemd_units.write_units(units, systemd_units.unit_folder(units.quadlet))
        systemctl("daemon-reload")
    running = reconfigure(store)
    runner = Runner.SYSTEMD if units is not None else Runner.PLATFORM
    return Change(running, runner, "" if running else "not running: applies at the next start")


def take_over(namespace: str, units: systemd_units.Units) -> bool:
    """After `system install`: a router the CLI started is stopped and started again by
    systemd (its connections drop once); True if there was one to take over."""
    store = open_site(namespace)
    platform = platform_of(store)
    if platform.status(store.paths).state is not RouterState.RUNNING:
        return False
    platform.stop(store.paths)
    systemctl("start", units.main_service)
    wait_until_answering(store)
    return True


def units_state(namespace: str) -> str:
    """Whether the site's units are installed, and whether systemd runs them here."""
    store = open_site(namespace)
    try:
        units = installed_units(store)
    except SkupperError as error:
        return f"unknown: {error}"
    if units is None:
        return "not installed"
    problem = systemd_problem()
    where = systemd_units.unit_folder(units.quadlet)
    if problem is not None:
        return f"installed in {where}, but {problem}"
    return f"installed in {where} ({units.main_service})"
