"""Site init, status and delete.

`init_site` either leaves a running, answering site or nothing at all: any failure stops
what was started and removes the namespace folder.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
from dataclasses import dataclass, field
from typing import Any

from skupper_podman import certs
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.paths import NamespacePaths, namespace_paths
from skupper_podman.platforms import RouterState, select_platform
from skupper_podman.platforms.base import CONTAINER_PLATFORMS, DEFAULT_PLATFORM
from skupper_podman.site import ports
from skupper_podman.site.hosts import WILDCARD_HOSTS, server_hosts
from skupper_podman.site.migration import open_site
from skupper_podman.site.rotation import certificate_warnings
from skupper_podman.site.runtime import (
    exposure,
    platform_of,
    query,
    wait_until_answering,
    write_router_config,
)
from skupper_podman.site.store import RuntimeFacts, SiteStore
from skupper_podman.site.tokens import choose_grant_port

DEFAULT_INTER_ROUTER_PORT = 55671
DEFAULT_EDGE_PORT = 45671
ROUTER_ACCESS_NAME = "skupper-router"


@dataclass(frozen=True)
class SiteStatus:
    """A site as seen from its files, its platform and its router's answer."""

    name: str
    namespace: str
    platform: str
    router_state: str
    router_answering: bool
    detail: str
    link_access_port: int | None
    links: list[dict[str, Any]]  # this site's links: name, up, remoteSite, cost
    linked_sites: list[str]  # sites whose links to this one are up
    metrics: str | None  # the Prometheus endpoint's URL (linux platform)
    listeners: int
    connectors: int
    router: dict[str, Any] = field(default_factory=dict)
    # "listener web: <why its last client was refused>", "connector db: <...>"
    service_errors: list[str] = field(default_factory=list)
    # certificates expiring within 30 days, a CA rotation waiting to be finished
    certificate_warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "platform": self.platform,
            "routerState": self.router_state,
            "routerAnswering": self.router_answering,
            "detail": self.detail,
            "linkAccessPort": self.link_access_port,
            "links": self.links,
            "linkedSites": self.linked_sites,
            "metrics": self.metrics,
            "listeners": self.listeners,
            "connectors": self.connectors,
            "router": self.router,
            "serviceErrors": self.service_errors,
            "certificateWarnings": self.certificate_warnings,
        }


LINK_ROLES = ("inter-router", "edge")


def default_site_name(namespace: str) -> str:
    """The namespace name; for the default namespace, this host's name (router ids must
    differ across the network)."""
    if namespace != "default":
        return namespace
    label = socket.gethostname().split(".")[0].lower()
    cleaned = "".join(c if c.isalnum() else "-" for c in label).strip("-")
    return cleaned or "default"


def site_resources(
    name: str,
    link_access: bool,
    bind_host: str | None,
    port: int,
    *,
    edge: bool = False,
    grant_port: int | None = None,
) -> list[res.Resource]:
    """The Site and, with link access, its RouterAccess: the edge port is the first free
    one from 45671 that is neither the link port nor the grant server port asked for."""
    site = res.Site(
        metadata=res.Metadata(name=name),
        spec=res.SiteSpec(link_access="default" if link_access else None, edge=edge),
    )
    if not link_access:
        return [site]
    # Interior sites accept links from interior sites and from edge sites, on two ports.
    avoid = {port} if grant_port is None else {port, grant_port}
    edge_port = ports.first_free(bind_host or "0.0.0.0", DEFAULT_EDGE_PORT, exclude=avoid)
    access = res.RouterAccess(
        metadata=res.Metadata(name=ROUTER_ACCESS_NAME),
        spec=res.RouterAccessSpec(
            roles=[
                res.RouterAccessRole(name="inter-router", port=port),
                res.RouterAccessRole(name="edge", port=edge_port),
            ],
            tls_credentials=certs.SITE_SERVER,
            generate_tls_credentials=True,
            bind_host=bind_host,
        ),
    )
    return [site, access]


def with_names(
    resources: list[res.Resource], platform: str, extra: tuple[str, ...]
) -> list[res.Resource]:
    """Add names to the link access certificate: the user's, and on a container platform
    the names containers use for the host (links between sites on one host)."""
    names = list(extra)
    if platform in CONTAINER_PLATFORMS:
        names += ["host.containers.internal", "host.docker.internal"]
    if not names:
        return resources
    updated: list[res.Resource] = []
    for resource in resources:
        if isinstance(resource, res.RouterAccess):
            known = resource.spec.subject_alternative_names
            spec = resource.spec.model_copy(
                update={"subject_alternative_names": list(dict.fromkeys([*known, *names]))}
            )
            resource = resource.model_copy(update={"spec": spec})
        updated.append(resource)
    return updated


def _write_certificates(store: SiteStore, site_name: str, access: res.RouterAccess | None) -> None:
    site_ca = certs.new_ca(f"{site_name} site CA")
    certs.write_credential(store.credential_folder(certs.SITE_CA), site_ca.files())
    if access is not None:
        hosts = server_hosts(access.spec.bind_host, access.spec.subject_alternative_names)
        server = certs.issue_server_cert(site_ca, site_name, hosts)
        certs.write_credential(store.credential_folder(access.spec.tls_credentials), server.files())
    local_ca = certs.new_ca(f"{site_name} local CA")
    local_server = certs.issue_server_cert(
        local_ca, "skupper-router-local", ["127.0.0.1", "localhost"]
    )
    local_client = certs.issue_client_cert(local_ca, "skupper-podman")
    certs.write_credential(store.credential_folder(certs.LOCAL_SERVER), local_server.files())
    certs.write_credential(store.credential_folder(certs.LOCAL_CLIENT), local_client.files())


def choose_port(bind_host: str | None, port: int | None) -> int:
    host = bind_host or "0.0.0.0"
    if port is None:
        return ports.first_free(host, DEFAULT_INTER_ROUTER_PORT)
    if not 1 <= port <= ports.MAX_PORT:
        raise SkupperError(f"invalid port {port}: use 1 to {ports.MAX_PORT}")
    ports.require_free(host, port, what="link access")
    return port


def check_bind_host(bind_host: str | None) -> None:
    if bind_host is None or bind_host in WILDCARD_HOSTS:
        return
    try:
        ipaddress.ip_address(bind_host)
    except ValueError:
        try:
            socket.getaddrinfo(bind_host, None)
        except OSError:
            raise SkupperError(f"bind host {bind_host!r} does not resolve") from None


def init_site(
    namespace: str,
    name: str | None = None,
    *,
    link_access: bool = False,
    bind_host: str | None = None,
    port: int | None = None,
    platform: str | None = None,
    edge: bool = False,
    grant_port: int | None = None,
    container_endpoint: str | None = None,
    router_image: str | None = None,
    subject_alternative_names: tuple[str, ...] = (),
) -> SiteStatus:
    """Create a site in `namespace` and start its router; roll everything back on failure.

    An edge site (``edge``) links to one interior site at a time and accepts no links.
    `container_endpoint` and `router_image` apply to the podman and docker platforms.
    """
    store = SiteStore(namespace_paths(namespace))
    if store.has_site():
        raise SkupperError(f"namespace {namespace} already has a site: 'site delete' it first")
    runner = select_platform(platform, endpoint=container_endpoint, image=router_image)
    site_name = name or default_site_name(namespace)
    with res.user_input("site name"):
        res.Metadata(name=site_name)
    if port is not None and not link_access:
        raise SkupperError("--port is the link access port: add --link-access")
    if grant_port is not None and not link_access:
        raise SkupperError("--grant-port is the token redemption port: add --link-access")
    if edge and link_access:
        raise SkupperError("an edge site accepts no links: use --edge or --link-access, not both")
    check_bind_host(bind_host)
    chosen_port = choose_port(bind_host, port) if link_access else DEFAULT_INTER_ROUTER_PORT
    with res.user_input(f"site {site_name}"):
        resources = site_resources(
            site_name, link_access, bind_host, chosen_port, edge=edge, grant_port=grant_port
        )
        resources = with_names(resources, runner.name, subject_alternative_names)
    # Each port is chosen with the site's earlier choices excluded: none is bound yet.
    taken = {
        role.port for r in resources if isinstance(r, res.RouterAccess) for role in r.spec.roles
    }
    grant_server_port = choose_grant_port(bind_host, grant_port, taken) if link_access else None
    if grant_server_port is not None:
        taken.add(grant_server_port)
    management_port = ports.loopback_port(exclude=taken)
    taken.add(management_port)
    facts = RuntimeFacts(
        platform=runner.name,
        management_port=management_port,
        grant_server_port=grant_server_port,
        metrics_port=None
        if runner.name in CONTAINER_PLATFORMS
        else ports.loopback_port(exclude=taken),
    )
    started = False
    try:
        for resource in resources:
            store.write(resource)
        access = next((r for r in resources if isinstance(r, res.RouterAccess)), None)
        _write_certificates(store, site_name, access)
        store.write_facts(facts)
        stored = store.load()
        write_router_config(store, facts, stored)
        started = True
        runner.start(store.paths, exposure(store, stored, facts))
        wait_until_answering(store)
    except BaseException:
        if started:
            runner.stop(store.paths)
        shutil.rmtree(store.paths.root, ignore_errors=True)
        raise
    return site_status(namespace)


def _metrics_url(paths: NamespacePaths, facts: RuntimeFacts) -> str | None:
    """Where the Prometheus text is: a loopback URL, or a unix socket (container sites:
    read it with `curl --unix-socket PATH http://localhost/metrics`)."""
    if facts.platform in CONTAINER_PLATFORMS:
        return f"unix:{paths.metrics_socket}"
    return f"http://127.0.0.1:{facts.metrics_port}/metrics" if facts.metrics_port else None


def site_status(namespace: str) -> SiteStatus:
    """The site's resources, whether its router runs and whether it answers."""
    store = open_site(namespace)
    resources = store.load()
    facts = store.facts()
    platform = platform_of(store)
    runtime = platform.status(store.paths)
    answering, detail, router = False, runtime.detail, {}
    connections: list[dict[str, Any]] = []
    connector_messages: dict[str, str] = {}
    service_errors: list[str] = []
    if runtime.state is RouterState.RUNNING:
        try:
            found = query(store, "router")
            router = found[0] if found else {}
            connections = [c for c in query(store, "connection") if c.get("role") in LINK_ROLES]
            connector_messages = {
                str(c.get("name")): str(c.get("connectionMsg") or "")
                for c in query(store, "connector")
            }
            for entity, noun in (("tcpListener", "listener"), ("tcpConnector", "connector")):
                service_errors += [
                    f"{noun} {row.get('name')}: {row['connectionMsg']}"
                    for row in query(store, entity)
                    if row.get("connectionMsg")
                ]
            answering = True
        except SkupperError as error:
            detail = str(error)
        try:
            service_errors += platform.listener_problems(store.paths)
        except SkupperError as error:
            service_errors.append(f"listeners not checked: {error}")
    outgoing = {c.get("linkName"): c for c in connections if c.get("dir") == "out"}
    links = []
    for link in resources.links:
        connection = outgoing.get(link.name)
        up = bool(connection and connection.get("opened"))
        links.append(
            {
                "name": link.name,
                "up": up,
                "error": "" if up else connector_messages.get(link.name, ""),
                "remoteSite": connection.get("container") if connection else None,
                "cost": int(connection.get("cost") or link.spec.cost)
                if connection
                else link.spec.cost,
            }
        )
    linked = sorted(
        str(c.get("container")) for c in connections if c.get("dir") == "in" and c.get("opened")
    )
    access = resources.router_access
    link_port = access.spec.port_for_role("inter-router") if access else None
    return SiteStatus(
        name=resources.site.name,
        namespace=namespace,
        platform=facts.platform,
        router_state=runtime.state.value,
        router_answering=answering,
        detail=detail,
        link_access_port=link_port if resources.site.spec.has_link_access else None,
        links=links,
        linked_sites=linked,
        metrics=_metrics_url(store.paths, facts),
        listeners=len(resources.listeners),
        connectors=len(resources.connectors),
        router=router,
        service_errors=service_errors,
        certificate_warnings=certificate_warnings(store),
    )


def delete_site(namespace: str) -> bool:
    """Stop the router and remove the namespace's files; False if there was nothing."""
    store = SiteStore(namespace_paths(namespace))
    if not store.paths.root.exists():
        return False
    try:
        platform_name = store.facts().platform
    except SkupperError:
        platform_name = DEFAULT_PLATFORM  # half-written namespace: still stop what may run
    select_platform(platform_name).stop(store.paths)
    shutil.rmtree(store.paths.root)
    return True
