"""Sites written by an earlier release, taken over by this one: their files are migrated
once, the first time a command opens the site, after a backup; a site written by a newer
release is refused (`SiteStore.facts`).

Each step takes the files from one schema version to the next (store.SCHEMA_VERSION):
1 -> 2: the router config is rendered again by this release's renderer (an earlier one may
        lack entities this release's router expects), and platform.json records the schema
        and the release; written last and atomically, so an interrupted migration runs
        again from the start.
The backup (`backups/schema-<N>-<time>/`) holds the runtime files as they were; the
resources and certificates are not changed by any step.
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from dataclasses import replace

from skupper_podman import __version__
from skupper_podman.site.runtime import write_router_config
from skupper_podman.site.store import SCHEMA_VERSION, SiteStore, existing_store

BACKUPS = "backups"


def _render_again(store: SiteStore) -> None:
    write_router_config(store, store.facts())


STEPS: dict[int, Callable[[SiteStore], None]] = {1: _render_again}


def open_site(namespace: str) -> SiteStore:
    """The store of an existing site, migrated to this release's schema if it is older;
    a clear error if there is no site or a newer release wrote it."""
    store = existing_store(namespace)
    facts = store.facts()
    if facts.schema_version < SCHEMA_VERSION:
        migrate(store, facts.schema_version)
    return store


def migrate(store: SiteStore, version: int) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = store.paths.root / BACKUPS / f"schema-{version}-{stamp}"
    staging = backup.with_name(backup.name + ".partial")
    # The runtime files (router config, platform facts; not the router's log).
    shutil.copytree(store.paths.runtime, staging, ignore=shutil.ignore_patterns("*.log*", "*.pid"))
    staging.rename(backup)
    for step in range(version, SCHEMA_VERSION):
        STEPS[step](store)
    facts = store.facts()
    store.write_facts(replace(facts, schema_version=SCHEMA_VERSION, written_by=__version__))
