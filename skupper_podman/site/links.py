"""Links between sites: generate a link file on the accepting site, create it on the
linking site, see whether it is up, delete it.

A link file is Skupper v2 YAML: a Link (where to connect, which credentials, cost) and a
TLS Secret (a client certificate signed by the accepting site's CA, its key, and that CA).
`create_link` checks the file completely before it writes anything.
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from skupper_podman import certs, progress, yaml_input
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.routerconfig import LINK_PROXY_SETTING, link_role
from skupper_podman.site import router_access
from skupper_podman.site.migration import open_site
from skupper_podman.site.proxy import ProxyChoice, shown
from skupper_podman.site.revocation import record_generated
from skupper_podman.site.runtime import query, reconfigure
from skupper_podman.site.store import SiteStore

RESERVED_CREDENTIALS = (
    certs.SITE_CA,
    certs.SITE_SERVER,
    certs.LOCAL_CA,
    certs.LOCAL_SERVER,
    certs.LOCAL_CLIENT,
)


@dataclass(frozen=True)
class LinkStatus:
    name: str
    endpoint: str
    cost: int
    up: bool
    remote_site: str | None
    status: str
    message: str
    proxy: str = ""  # host:port of the HTTP proxy the link goes through

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "proxy": self.proxy,
            "cost": self.cost,
            "up": self.up,
            "remoteSite": self.remote_site,
            "status": self.status,
            "message": self.message,
        }


def _certificate_names(store: SiteStore, credential: str) -> list[str]:
    cert = certs.read_credential(store.credential_folder(credential)).cert
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(n.value) for n in extension.value]


def require_link_access(store: SiteStore) -> res.RouterAccess:
    """The site's RouterAccess; a clear error if it accepts no links."""
    resources = store.load()
    access = resources.router_access
    if not resources.site.spec.has_link_access or access is None:
        raise SkupperError(
            f"site {resources.site.name} has no link access: "
            "init it with 'skupper-podman site init --link-access'"
        )
    return access


def dial_host(store: SiteStore, access: res.RouterAccess, host: str | None) -> str:
    """The host other sites dial (`host` or this host's name); it must be in the site's
    server certificate, or their TLS verification would fail."""
    target = host or socket.gethostname()
    known = _certificate_names(store, access.spec.tls_credentials)
    if target not in known:
        raise SkupperError(
            f"host {target!r} is not in this site's certificate; use one of: {', '.join(known)}"
        )
    return target


def generate_link(
    namespace: str, *, name: str | None = None, host: str | None = None, cost: int = 1
) -> str:
    """A link file (Link + Secret YAML) that lets another site link to this one."""
    store = open_site(namespace)
    access = require_link_access(store)
    link_name = name or f"link-{store.load().site.name}"
    with res.user_input("link name"):
        res.Metadata(name=link_name)
    target = dial_host(store, access, host)
    with res.user_input(f"link {link_name}"):
        endpoints = [
            res.Endpoint(name=role.name, host=target, port=role.port) for role in access.spec.roles
        ]
        res.LinkSpec(endpoints=endpoints, tls_credentials=link_name, cost=cost)
    site_ca = certs.read_credential(store.credential_folder(certs.SITE_CA))
    client = certs.issue_client_cert(site_ca, link_name)
    record_generated(store, link_name, client.cert)
    files = client.files() | {certs.CA_FILE: router_access.peer_trust(store, access)}
    return res.link_file(link_name, endpoints, cost, files)


def _read_link_file(path: Path) -> tuple[res.Link, res.Secret]:
    text = yaml_input.read_text(path, "link file")
    return link_and_secret(res.load_yaml(text, str(path)), str(path))


def link_and_secret(items: list[res.Resource], where: str) -> tuple[res.Link, res.Secret]:
    """The one Link and its Secret of a link file (or of a grant server's answer)."""
    links = [r for r in items if isinstance(r, res.Link)]
    others = [r for r in items if not isinstance(r, res.Link | res.Secret)]
    if len(links) != 1 or others:
        raise SkupperError(f"{where}: a link file holds exactly one Link and its Secret")
    link = links[0]
    secret = next(
        (r for r in items if isinstance(r, res.Secret) and r.name == link.spec.tls_credentials),
        None,
    )
    if secret is None:
        raise SkupperError(
            f"{where}: no Secret named {link.spec.tls_credentials!r} (the Link's tlsCredentials)"
        )
    return link, secret


def check_secret(path: Path | str, secret: res.Secret, store: SiteStore) -> None:
    """Refuse a link's Secret (named by `path` in errors) that lacks a key, whose client
    credential does not verify, or that this site issued itself (its CA is ours)."""
    missing = [key for key in res.TLS_SECRET_KEYS if key not in secret.data]
    if missing:
        raise SkupperError(f"{path}: Secret {secret.name} lacks {', '.join(missing)}")
    try:
        certs.verify_client_credential(
            secret.pem(certs.CA_FILE), secret.pem(certs.CERT_FILE), secret.pem(certs.KEY_FILE)
        )
    except SkupperError as error:
        raise SkupperError(f"{path}: link refused: {error}") from None
    own_ca = certs.read_credential(store.credential_folder(certs.SITE_CA)).cert
    if certs.same_certificate(secret.pem(certs.CA_FILE), own_ca):
        raise SkupperError(
            f"{path}: this link file was generated by this site; create it on another site"
        )


def _renamed(
    link: res.Link, secret: res.Secret, name: str | None, cost: int | None, proxy: str
) -> tuple[res.Link, res.Secret]:
    link_name = name or link.name
    link_document = res.to_document(link)
    link_document["metadata"] = {"name": link_name}
    link_document["spec"]["tlsCredentials"] = link_name
    if cost is not None:
        link_document["spec"]["cost"] = cost
    _set_proxy(link_document, proxy)  # the linking host's own network decides
    secret_document = res.to_document(secret)
    secret_document["metadata"] = {"name": link_name}
    new_link = res.parse_resource(link_document, "link")
    new_secret = res.parse_resource(secret_document, "link secret")
    assert isinstance(new_link, res.Link) and isinstance(new_secret, res.Secret)
    return new_link, new_secret


def _set_proxy(link_document: dict[str, Any], url: str) -> None:
    """A Link document's proxy setting: ``url``, or none when it is empty."""
    settings = dict(link_document["spec"].get("settings") or {})
    settings.pop(LINK_PROXY_SETTING, None)
    if url:
        settings[LINK_PROXY_SETTING] = url
    link_document["spec"]["settings"] = settings


def create_link(
    namespace: str,
    path: Path,
    *,
    name: str | None = None,
    cost: int | None = None,
    proxy: ProxyChoice = ProxyChoice(),
) -> tuple[res.Link, bool]:
    """Link this site to the one that generated `path`; returns the Link and whether the
    running router was reloaded."""
    store = open_site(namespace)
    link, secret = _read_link_file(path)
    return install_link(store, link, secret, str(path), name=name, cost=cost, proxy=proxy)


def check_new_link_name(store: SiteStore, name: str) -> None:
    if store.has("Link", name):
        raise SkupperError(f"a link named {name} already exists in namespace {store.namespace}")
    if name in RESERVED_CREDENTIALS:
        raise SkupperError(f"the link name {name} is reserved: choose another with --name")


def install_link(
    store: SiteStore,
    link: res.Link,
    secret: res.Secret,
    where: str,
    *,
    name: str | None = None,
    cost: int | None = None,
    proxy: ProxyChoice = ProxyChoice(),
) -> tuple[res.Link, bool]:
    """Check a Link and its Secret (from a link file or a redeemed token), then write
    them and reload the router."""
    resources = store.load()
    check_secret(where, secret, store)
    role = link_role(resources.site.spec.edge)
    endpoint = link.spec.endpoint_for_role(role)
    if endpoint is None:
        raise SkupperError(f"{where}: the Link has no {role!r} endpoint")
    link, secret = _renamed(link, secret, name, cost, proxy.url_for(endpoint.host))
    check_new_link_name(store, link.name)
    certs.write_credential(
        store.credential_folder(link.name), {key: secret.pem(key) for key in res.TLS_SECRET_KEYS}
    )
    store.write(secret)
    store.write(link)
    return link, reconfigure(store)


def update_link(
    namespace: str, name: str, *, cost: int | None = None, proxy: ProxyChoice | None = None
) -> tuple[res.Link, bool]:
    """Change a link's cost or proxy (``proxy`` None: unchanged); the router dials it again."""
    store = open_site(namespace)
    link = store.read("Link", name)
    if not isinstance(link, res.Link):
        raise SkupperError(f"no link named {name} in namespace {namespace}")
    if cost is None and proxy is None:
        raise SkupperError("nothing to change: give --cost, --proxy or --no-proxy")
    document = res.to_document(link)
    if cost is not None:
        document["spec"]["cost"] = cost
    if proxy is not None:
        endpoint = link.spec.endpoint_for_role(link_role(store.load().site.spec.edge))
        _set_proxy(document, proxy.url_for((endpoint or link.spec.endpoints[0]).host))
    with res.user_input(f"link {name}"):
        updated = res.parse_resource(document, f"link {name}")
    assert isinstance(updated, res.Link)
    store.write(updated)
    return updated, reconfigure(store)


def delete_link(namespace: str, name: str) -> bool:
    """Remove a link and its credentials; returns whether the router was reloaded."""
    store = open_site(namespace)
    if not store.has("Link", name):
        raise SkupperError(f"no link named {name} in namespace {namespace}")
    link = next(link for link in store.load().links if link.name == name)
    store.remove("Link", name)
    store.remove("Secret", link.spec.tls_credentials)
    shutil.rmtree(store.credential_folder(link.spec.tls_credentials), ignore_errors=True)
    return reconfigure(store)


def link_status(namespace: str) -> list[LinkStatus]:
    """Each link's state as the router reports it: connector status and its connection."""
    store = open_site(namespace)
    resources = store.load()
    if not resources.links:
        return []
    connectors = {c.get("name"): c for c in query(store, "connector")}
    connections = [
        c
        for c in query(store, "connection")
        if c.get("dir") == "out" and c.get("role") in ("inter-router", "edge")
    ]
    role = link_role(resources.site.spec.edge)
    statuses = []
    for link in resources.links:
        endpoint = link.spec.endpoint_for_role(role) or link.spec.endpoints[0]
        address = f"{endpoint.host}:{endpoint.port}"
        connector = connectors.get(link.name, {})
        connection = next(
            (c for c in connections if c.get("linkName") == link.name or c.get("host") == address),
            None,
        )
        state = str(connector.get("connectionStatus") or "UNKNOWN")
        up = state == "SUCCESS" and connection is not None and bool(connection.get("opened", True))
        statuses.append(
            LinkStatus(
                name=link.name,
                endpoint=address,
                cost=int(connection.get("cost") or link.spec.cost)
                if connection
                else link.spec.cost,
                up=up,
                remote_site=str(connection.get("container")) if connection else None,
                status=state,
                message=str(connector.get("connectionMsg") or ""),
                proxy=shown(link.spec.settings.get(LINK_PROXY_SETTING, "")),
            )
        )
    return statuses


def wait_for_link(namespace: str, name: str, timeout: float) -> LinkStatus:
    """Return once link ``name`` is up; raise with its last status after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    with progress.step(f"waiting for link {name} to come up"):
        while True:
            current = next((s for s in link_status(namespace) if s.name == name), None)
            if current is None:
                raise SkupperError(f"no link {name} in namespace {namespace}")
            if current.up:
                return current
            if time.monotonic() >= deadline:
                detail = current.message or current.status
                raise SkupperError(
                    f"link {name} is not up after {timeout:.0f} s ({detail}); it stays "
                    "configured and keeps trying: see 'skupper-podman link status'"
                )
            time.sleep(0.5)
