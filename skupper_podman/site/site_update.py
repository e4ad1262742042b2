"""`site update`: turn a running site's link access on or off (Skupper's
``--enable-link-access``), keeping its identity, links and services.

Turning it on writes a RouterAccess (inter-router and edge ports), a server certificate
from the site CA and a grant server port, as `site init --link-access` would; off removes
them, and link files and tokens this site issued stop working. A router in a container
publishes its ports only when it is made, so there the router is made again (its links
come back within seconds); a plain process takes the change on reload.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace

from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.platforms import RouterState
from skupper_podman.platforms.base import CONTAINER_PLATFORMS
from skupper_podman.site import router_access
from skupper_podman.site.lifecycle import check_bind_host, choose_port, site_resources, with_names
from skupper_podman.site.migration import open_site
from skupper_podman.site.runtime import platform_of, reconfigure
from skupper_podman.site.store import SiteStore
from skupper_podman.site.system import start_site, stop_site
from skupper_podman.site.tokens import choose_grant_port


@dataclass(frozen=True)
class SiteUpdate:
    summary: str
    restarted: bool  # the router was made again (a container platform)
    running: bool


def update_link_access(
    namespace: str,
    enable: bool,
    *,
    bind_host: str | None = None,
    port: int | None = None,
    grant_port: int | None = None,
    subject_alternative_names: tuple[str, ...] = (),
) -> SiteUpdate:
    store = open_site(namespace)
    resources = store.load()
    site = resources.site
    has_access = site.spec.has_link_access and resources.router_access is not None
    if enable == has_access:
        state = "already has" if enable else "has no"
        raise SkupperError(f"site {site.name} {state} link access: nothing to change")
    if not enable and (bind_host or port or grant_port or subject_alternative_names):
        raise SkupperError("--bind-host, --port, --grant-port and names go with link access on")
    if enable:
        if site.spec.edge:
            raise SkupperError(f"site {site.name} is an edge site: it accepts no links")
        _enable(store, site, bind_host, port, grant_port, subject_alternative_names)
        summary = "link access on"
    else:
        _disable(store, site, resources.router_access)
        summary = "link access off; link files and tokens it issued no longer work"
    return _apply(store, summary)


def _enable(
    store: SiteStore,
    site: res.Site,
    bind_host: str | None,
    port: int | None,
    grant_port: int | None,
    names: tuple[str, ...],
) -> None:
    check_bind_host(bind_host)
    chosen = choose_port(bind_host, port)
    facts = store.facts()
    with res.user_input(f"site {site.name}"):
        made = site_resources(site.name, True, bind_host, chosen, grant_port=grant_port)
        made = with_names(made, facts.platform, names)
    access = next(r for r in made if isinstance(r, res.RouterAccess))
    role_ports = {role.port for role in access.spec.roles}
    grant = choose_grant_port(bind_host, grant_port, role_ports)
    router_access.issue_server_credential(store, site.name, access)
    store.write(access)
    spec = site.spec.model_copy(update={"link_access": "default"})
    store.write(site.model_copy(update={"spec": spec}))
    store.write_facts(replace(facts, grant_server_port=grant))


def _disable(store: SiteStore, site: res.Site, access: res.RouterAccess | None) -> None:
    spec = site.spec.model_copy(update={"link_access": None})
    store.write(site.model_copy(update={"spec": spec}))
    if access is not None:
        store.remove("RouterAccess", access.name)
        shutil.rmtree(store.credential_folder(access.spec.tls_credentials), ignore_errors=True)
    store.write_facts(replace(store.facts(), grant_server_port=None))


def _apply(store: SiteStore, summary: str) -> SiteUpdate:
    running = platform_of(store).status(store.paths).state is RouterState.RUNNING
    if store.facts().platform not in CONTAINER_PLATFORMS or not running:
        return SiteUpdate(summary, restarted=False, running=reconfigure(store))
    stop_site(store.namespace)
    start_site(store.namespace)
    return SiteUpdate(summary, restarted=True, running=True)
