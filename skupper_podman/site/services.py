"""Listeners (a local port that reaches a routing key) and connectors (a routing key that
reaches a host:port from this site): create, update, list, status, delete.

Both kinds share one implementation; they differ in their resource model, their router
entity (tcpListener / tcpConnector) and that a listener's port must be free here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.platforms.base import CONTAINER_PLATFORMS
from skupper_podman.site import ports, service_credentials
from skupper_podman.site.migration import open_site
from skupper_podman.site.runtime import query, reconfigure
from skupper_podman.site.store import SiteStore

ServiceResource = res.Listener | res.Connector


@dataclass(frozen=True)
class ServiceStatus:
    """A listener or connector as configured and as the router reports it."""

    name: str
    routing_key: str
    host: str
    port: int
    status: str
    connections_opened: int
    connections_closed: int
    bytes_in: int
    bytes_out: int
    connections_failed: int = 0
    last_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "routingKey": self.routing_key,
            "host": self.host,
            "port": self.port,
            "status": self.status,
            "connectionsOpened": self.connections_opened,
            "connectionsClosed": self.connections_closed,
            "bytesIn": self.bytes_in,
            "bytesOut": self.bytes_out,
            "connectionsFailed": self.connections_failed,
            "lastError": self.last_error,
        }


def _existing(store: SiteStore, kind: str) -> tuple[ServiceResource, ...]:
    resources = store.load()
    return resources.listeners if kind == "Listener" else resources.connectors


def _create(store: SiteStore, resource: ServiceResource) -> bool:
    noun = resource.kind.lower()
    if store.has(resource.kind, resource.name):
        raise SkupperError(
            f"a {noun} named {resource.name} already exists in namespace {store.namespace}"
        )
    store.write(resource)
    return reconfigure(store)


def _delete(store: SiteStore, kind: str, name: str) -> bool:
    if not store.has(kind, name):
        raise SkupperError(f"no {kind.lower()} named {name} in namespace {store.namespace}")
    store.remove(kind, name)
    return reconfigure(store)


def _status(store: SiteStore, kind: str, name: str | None) -> list[ServiceStatus]:
    configured = [r for r in _existing(store, kind) if name is None or r.name == name]
    if name is not None and not configured:
        raise SkupperError(f"no {kind.lower()} named {name} in namespace {store.namespace}")
    if not configured:
        return []
    entity = "tcpListener" if kind == "Listener" else "tcpConnector"
    reported = {e.get("name"): e for e in query(store, entity)}
    statuses = []
    for resource in configured:
        found = reported.get(resource.name, {})
        statuses.append(
            ServiceStatus(
                name=resource.name,
                routing_key=resource.spec.routing_key,
                host=resource.spec.host,
                port=resource.spec.port,
                status=str(found.get("operStatus") or "unknown"),
                connections_opened=int(found.get("connectionsOpened") or 0),
                connections_closed=int(found.get("connectionsClosed") or 0),
                bytes_in=int(found.get("bytesIn") or 0),
                bytes_out=int(found.get("bytesOut") or 0),
                connections_failed=int(found.get("connectionsFailed") or 0),
                last_error=str(found.get("connectionMsg") or ""),
            )
        )
    return statuses


def create_listener(
    namespace: str,
    name: str,
    port: int,
    *,
    routing_key: str,
    host: str = "127.0.0.1",
    tls_credentials: str | None = None,
    observer: str | None = None,
) -> tuple[res.Listener, bool]:
    """Add a listener; returns it and whether the running router was reloaded.
    ``tls_credentials``: a credential name, or a folder of PEM files to import;
    ``observer``: what its clients' flows are read for (None: auto)."""
    folder = _credential_folder(tls_credentials)
    with res.user_input(f"listener {name}"):
        listener = res.Listener(
            metadata=res.Metadata(name=name),
            spec=res.ListenerSpec(
                routing_key=routing_key,
                host=host,
                port=port,
                tls_credentials=service_credentials.folder_name(folder)
                if folder
                else tls_credentials,
                observer=observer,
            ),
        )
    store = open_site(namespace)
    if store.has("Listener", name):
        raise SkupperError(f"a listener named {name} already exists in namespace {namespace}")
    ports.require_free(host, port, what=f"listener {name}")
    return listener, _create_with_credentials(store, listener, folder)


def _credential_folder(value: str | None) -> Path | None:
    """``--tls-credentials``: a folder of PEM files to import, or None for a name."""
    if value is None:
        return None
    path = Path(value)
    try:
        is_folder = path.is_dir()
    except OSError:  # a name too long to be a path: a credential name (checked later)
        return None
    if "/" not in value and not is_folder:
        return None
    if not is_folder:
        raise SkupperError(f"--tls-credentials {value[:100]}: no such folder")
    return path


def _create_with_credentials(
    store: SiteStore, resource: ServiceResource, folder: Path | None, *, replace: bool = False
) -> bool:
    """Import ``folder`` (if any), make the credential, write the resource (over the one
    of that name if ``replace``); on a failure, what was imported is removed again."""
    name = resource.spec.tls_credentials
    imported = None
    if (
        folder is not None
        and name is not None
        and service_credentials.import_folder(store, folder, name)
    ):
        imported = store.credential_folder(name)
    try:
        service_credentials.check(resource, store, {}, f"{resource.kind.lower()} {resource.name}")
        service_credentials.ensure(store, resource)
        if not replace:
            return _create(store, resource)
        store.write(resource)
        return reconfigure(store)
    except BaseException:
        if imported is not None:
            shutil.rmtree(imported, ignore_errors=True)
        raise


def update_service(
    namespace: str, kind: str, name: str, changes: dict[str, Any]
) -> tuple[ServiceResource, bool]:
    """Change the spec fields in ``changes`` (model names; None: unchanged) of a listener
    or connector; the running router takes the change without a restart."""
    store = open_site(namespace)
    noun = kind.lower()
    current = store.read(kind, name)
    if not isinstance(current, res.Listener | res.Connector):
        raise SkupperError(f"no {noun} named {name} in namespace {namespace}")
    given = {field: value for field, value in changes.items() if value is not None}
    if not given:
        raise SkupperError(f"nothing to change: see '{noun} update --help' for what can be")
    folder = _credential_folder(given.get("tls_credentials"))
    if folder is not None:
        given["tls_credentials"] = service_credentials.folder_name(folder)
    with res.user_input(f"{noun} {name}"):
        spec = type(current.spec).model_validate({**current.spec.model_dump(), **given})
    updated = current.model_copy(update={"spec": spec})
    if isinstance(updated, res.Listener) and updated.spec.port != current.spec.port:
        ports.require_free(updated.spec.host, updated.spec.port, what=f"listener {name}")
    return updated, _create_with_credentials(store, updated, folder, replace=True)


def list_listeners(namespace: str) -> list[res.Listener]:
    return list(open_site(namespace).load().listeners)


def listener_status(namespace: str, name: str | None = None) -> list[ServiceStatus]:
    return _status(open_site(namespace), "Listener", name)


def delete_listener(namespace: str, name: str) -> bool:
    return _delete(open_site(namespace), "Listener", name)


def create_connector(
    namespace: str,
    name: str,
    port: int,
    *,
    routing_key: str,
    host: str | None = None,
    tls_credentials: str | None = None,
    use_client_cert: bool = False,
    verify_hostname: bool = True,
) -> tuple[res.Connector, bool]:
    """Add a connector; returns it and whether the running router was reloaded. Without
    ``host``: this host, as the site's router reaches it (`default_connector_host`)."""
    store = open_site(namespace)
    host = host or default_connector_host(store.facts().platform)
    folder = _credential_folder(tls_credentials)
    with res.user_input(f"connector {name}"):
        connector = res.Connector(
            metadata=res.Metadata(name=name),
            spec=res.ConnectorSpec(
                routing_key=routing_key,
                host=host,
                port=port,
                tls_credentials=service_credentials.folder_name(folder)
                if folder
                else tls_credentials,
                use_client_cert=use_client_cert or None,
                verify_hostname=None if verify_hostname else False,
            ),
        )
    if store.has("Connector", name):
        raise SkupperError(f"a connector named {name} already exists in namespace {namespace}")
    return connector, _create_with_credentials(store, connector, folder)


def default_connector_host(platform: str) -> str:
    """A connector's host when none is given: this host. A router in a container reaches
    it by the name both engines give the host (docker: added as host-gateway)."""
    return "host.containers.internal" if platform in CONTAINER_PLATFORMS else "127.0.0.1"


def list_connectors(namespace: str) -> list[res.Connector]:
    return list(open_site(namespace).load().connectors)


def connector_status(namespace: str, name: str | None = None) -> list[ServiceStatus]:
    return _status(open_site(namespace), "Connector", name)


def delete_connector(namespace: str, name: str) -> bool:
    return _delete(open_site(namespace), "Connector", name)
