"""Bringing the running router in line with the resources, and asking it questions.

Every change goes the same way: the resources are written first, then the router config
is regenerated from all of them, then the running router is told to re-read it (SIGHUP;
no restart, established connections stay).
"""

from __future__ import annotations

import time
from typing import Any

from skupper_podman import certs, management, progress, routerconfig
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.files import write_atomically
from skupper_podman.platforms import Exposure, HostPort, Platform, RouterState, select_platform
from skupper_podman.site.store import RuntimeFacts, SiteStore

ROUTER_START_TIMEOUT_SECONDS = 20.0
_POLL_SECONDS = 0.2


def write_router_config(
    store: SiteStore, facts: RuntimeFacts, resources: res.SiteResources | None = None
) -> None:
    entities = routerconfig.build_router_config(
        resources or store.load(),
        namespace=store.namespace,
        platform=facts.platform,
        management_port=facts.management_port,
        grant_server_port=facts.grant_server_port,
        metrics_port=facts.metrics_port,
        ca_rotating=store.credential_folder(certs.PREVIOUS_SITE_CA).is_dir(),
    )
    write_atomically(store.paths.router_config, routerconfig.render(entities))


def platform_of(store: SiteStore) -> Platform:
    return select_platform(store.facts().platform)


def exposure(
    store: SiteStore,
    resources: res.SiteResources | None = None,
    facts: RuntimeFacts | None = None,
) -> Exposure:
    """The ports a container platform publishes for the site (the linux platform's router
    binds them itself); ``resources`` and ``facts``: the store's, when already read."""
    resources = resources or store.load()
    facts = facts or store.facts()
    access = resources.router_access
    link_ports: tuple[HostPort, ...] = ()
    if access is not None and resources.site.spec.has_link_access:
        host = access.spec.bind_host or "0.0.0.0"
        link_ports = tuple(HostPort(r.name, host, r.port) for r in access.spec.roles)
        grant_port = facts.grant_server_port
        if grant_port is not None:
            link_ports += (HostPort("grant-server", host, grant_port),)
    listeners = tuple(
        HostPort(
            listener.name,
            listener.spec.host,
            listener.spec.port,
            aliases=tuple(dict.fromkeys((listener.spec.routing_key, listener.name))),
        )
        for listener in resources.listeners
    )
    return Exposure(
        site_name=resources.site.name,
        management_port=facts.management_port,
        link_ports=link_ports,
        listeners=listeners,
    )


def reconfigure(store: SiteStore) -> bool:
    """Regenerate the config and reload the router; False if the router is not running
    (the change then applies when it next starts)."""
    facts, resources = store.facts(), store.load()
    write_router_config(store, facts, resources)
    platform = select_platform(facts.platform)
    if platform.status(store.paths).state is not RouterState.RUNNING:
        return False
    platform.reload(store.paths, exposure(store, resources, facts))
    return True


def query(
    store: SiteStore, entity_type: str, attribute_names: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """One management query to the site's router."""
    return management.query(
        store.facts().management_port,
        store.credential_folder(certs.LOCAL_CLIENT),
        entity_type,
        attribute_names,
    )


def management_client(store: SiteStore) -> management.ManagementClient:
    """A management connection to the site's router, for several queries."""
    return management.ManagementClient(
        store.facts().management_port, store.credential_folder(certs.LOCAL_CLIENT)
    )


def wait_until_answering(store: SiteStore, timeout: float = ROUTER_START_TIMEOUT_SECONDS) -> None:
    """Return once the router answers a management query; raise if it died or stayed mute."""
    platform = platform_of(store)
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    with progress.step("waiting for the router to answer"):
        while time.monotonic() < deadline:
            if platform.status(store.paths).state is not RouterState.RUNNING:
                tail = platform.log_tail(store.paths)
                raise SkupperError(f"the router exited at start: {tail}")
            try:
                query(store, "router", ("id",))
                return
            except SkupperError as error:
                last_error = str(error)
            time.sleep(_POLL_SECONDS)
    raise SkupperError(f"the router did not answer within {timeout:.0f} s: {last_error}")
