"""What the systemd units of a site are rendered from: plain values read off the site's
store and its platform, so that `units/` never opens a store."""

from __future__ import annotations

import os

from skupper_podman.errors import SkupperError
from skupper_podman.platforms import container as platform
from skupper_podman.site.runtime import exposure
from skupper_podman.site.store import SiteStore
from skupper_podman.units import ContainerSite, LinuxSite


def unit_values(store: SiteStore, *, rootless: bool | None = None) -> LinuxSite | ContainerSite:
    """The site of ``store`` as its units need it; ``rootless`` defaults to whether this
    process runs as an ordinary user."""
    is_rootless = os.geteuid() != 0 if rootless is None else rootless
    name, paths = store.load().site.name, store.paths
    if store.facts().platform == "linux":
        return LinuxSite(
            name=name,
            namespace=store.namespace,
            rootless=is_rootless,
            runtime=paths.runtime.resolve(),
            pid_file=paths.pid_file.resolve(),
            config=paths.router_config.resolve(),
            log_file=paths.log_file.resolve(),
        )
    facts = platform.ContainerFacts.read(paths)
    if facts is None:
        raise SkupperError(
            f"namespace {store.namespace} has no {paths.runtime / platform.FACTS_FILE}: "
            "its containers were never made; run 'skupper-podman site init' again"
        )
    shown = exposure(store)
    return ContainerSite(
        name=name,
        namespace=store.namespace,
        rootless=is_rootless,
        engine=facts.engine,
        site_id=facts.site_id,
        # the same containers the site's platform makes
        router=platform.router_spec(paths, shown, facts, engine=facts.engine, rootless=is_rootless),
        site_mount=platform.SITE_MOUNT,
        listeners=tuple(
            platform.listener_spec(paths, shown, facts, listener) for listener in shown.listeners
        ),
        network_labels=platform.container_labels(paths, shown, facts, "network"),
        volume_labels=platform.container_labels(paths, shown, facts, "volume"),
    )
