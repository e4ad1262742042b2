"""`apply -f` and `delete -f`: a site described by Skupper v2 YAML.

Three steps, in this order, so that a bad document changes nothing: parse every document
(documents.py), check the whole set against the namespace as it is now (`_plan`), then
write. A Site applied to an empty namespace creates the site the way `site init` does
(fresh certificates, a started router); everything else is create-or-update of resource
files followed by one `reconfigure` (new config + SIGHUP), so a running router takes the
change without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from skupper_podman import certs
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.paths import namespace_paths
from skupper_podman.routerconfig import link_role
from skupper_podman.site import (
    certificate_documents,
    grant_documents,
    ports,
    router_access,
    service_credentials,
)
from skupper_podman.site.documents import Document
from skupper_podman.site.lifecycle import init_site
from skupper_podman.site.links import RESERVED_CREDENTIALS, check_secret
from skupper_podman.site.outcome import Outcome, key
from skupper_podman.site.runtime import reconfigure
from skupper_podman.site.store import SiteStore

_NOT_FOR_ROUTER_ACCESS = (
    certs.SITE_CA,
    certs.PREVIOUS_SITE_CA,
    certs.LOCAL_CA,
    certs.LOCAL_SERVER,
    certs.LOCAL_CLIENT,
)


def _one(documents: list[Document], kind: str) -> Document | None:
    found = [d for d in documents if d.kind == kind]
    if len(found) > 1:
        raise SkupperError(
            f"{found[1].label}: a site has one {kind}; document {found[0].index} is one already"
        )
    return found[0] if found else None


@dataclass(frozen=True)
class _Plan:
    store: SiteStore
    current: res.SiteResources | None
    site: res.Site
    access: res.RouterAccess | None
    documents: list[Document]


def _current_resources(store: SiteStore) -> res.SiteResources | None:
    return store.load() if store.has_site() else None


def _plan(namespace: str, documents: list[Document]) -> _Plan:
    """Check every document against the namespace; raise before anything is written."""
    store = SiteStore(namespace_paths(namespace))
    current = _current_resources(store)
    site_document = _one(documents, "Site")
    access_document = _one(documents, "RouterAccess")
    if site_document is None and current is None:
        raise SkupperError(
            f"namespace {namespace} has no site: add a Site document to the file "
            "or run 'skupper-podman site init' first"
        )
    site = site_document.resource if site_document else None
    assert current is not None or site is not None
    final_site = site if isinstance(site, res.Site) else current.site  # type: ignore[union-attr]
    if current is not None and site_document is not None:
        _check_site_update(site_document, current.site, final_site)
    access = access_document.resource if access_document else None
    assert access is None or isinstance(access, res.RouterAccess)
    if access is not None and access_document is not None:
        _check_access(access_document, access, current)
        secret = router_access.brought_secret(access, _secrets(documents, current))
        router_access.check(access_document.label, access, secret)
    elif final_site.spec.has_link_access and current is not None and current.router_access is None:
        raise SkupperError(
            f"{site_document.label if site_document else namespace}: link access needs a "
            "RouterAccess document (its ports) in the same file"
        )
    _check_links(documents, store, current, final_site)
    grant_documents.check(documents, final_site)
    certificate_documents.check(documents, store)
    _check_listeners(documents, current)
    return _Plan(store, current, final_site, access, documents)


def _check_site_update(document: Document, current: res.Site, site: res.Site) -> None:
    if site.name != current.name:
        raise SkupperError(
            f"{document.label}: metadata.name: this namespace's site is {current.name}; "
            "a site cannot be renamed (its name is its router id and in its certificates)"
        )
    if site.spec.edge != current.spec.edge:
        raise SkupperError(
            f"{document.label}: spec.edge: cannot change on an existing site; "
            "delete the site and apply it again"
        )


def _check_access(
    document: Document, access: res.RouterAccess, current: res.SiteResources | None
) -> None:
    roles = [role.name for role in access.spec.roles]
    if len(set(roles)) != len(roles):
        raise SkupperError(f"{document.label}: spec.roles: each role may appear once")
    numbers = [role.port for role in access.spec.roles]
    if len(set(numbers)) != len(numbers):
        raise SkupperError(f"{document.label}: spec.roles: each role needs its own port")
    own = set()
    if current is not None and current.router_access is not None:
        own = {role.port for role in current.router_access.spec.roles}
    host = access.spec.bind_host or "0.0.0.0"
    for index, role in enumerate(access.spec.roles):
        if role.port in own:
            continue
        try:
            ports.require_free(host, role.port, what=f"link access ({role.name})")
        except SkupperError as error:
            raise SkupperError(f"{document.label}: spec.roles.{index}.port: {error}") from None
    if access.spec.tls_credentials in _NOT_FOR_ROUTER_ACCESS:
        raise SkupperError(
            f"{document.label}: spec.tlsCredentials: {access.spec.tls_credentials} is reserved"
        )


def _check_links(
    documents: list[Document],
    store: SiteStore,
    current: res.SiteResources | None,
    site: res.Site,
) -> None:
    secrets = {d.name: d for d in documents if isinstance(d.resource, res.Secret)}
    existing_secrets = {s.name for s in current.secrets} if current else set()
    links = [d for d in documents if isinstance(d.resource, res.Link)]
    used = {d.resource.spec.tls_credentials for d in links if isinstance(d.resource, res.Link)}
    if current is not None:
        used |= {link.spec.tls_credentials for link in current.links}
    accesses = [d.resource for d in documents if isinstance(d.resource, res.RouterAccess)]
    if current is not None and current.router_access is not None:
        accesses.append(current.router_access)
    brought = {a.spec.tls_credentials for a in accesses if not a.spec.generate_tls_credentials}
    role = link_role(site.spec.edge)
    for document in links:
        link = document.resource
        assert isinstance(link, res.Link)
        credential = link.spec.tls_credentials
        if link.name in RESERVED_CREDENTIALS or credential in RESERVED_CREDENTIALS:
            raise SkupperError(f"{document.label}: metadata.name: {link.name} is reserved")
        if credential not in secrets and credential not in existing_secrets:
            raise SkupperError(
                f"{document.label}: spec.tlsCredentials: no Secret named {credential} "
                "in the file or the namespace"
            )
        if link.spec.endpoint_for_role(role) is None:
            raise SkupperError(f"{document.label}: spec.endpoints: no {role!r} endpoint")
    used_by_services = _check_service_credentials(documents, store, current)
    for name, document in secrets.items():
        if (name in used_by_services or name in brought) and name not in used:
            continue  # checked with its listener, connector or RouterAccess
        if name not in used:
            raise SkupperError(
                f"{document.label}: no Link, Listener or Connector uses this Secret as its "
                "tlsCredentials"
            )
        secret = document.resource
        assert isinstance(secret, res.Secret)
        if current is None:
            _check_secret_alone(document, secret)
        else:
            check_secret(document.label, secret, store)


def _check_service_credentials(
    documents: list[Document], store: SiteStore, current: res.SiteResources | None
) -> set[str | None]:
    """Check each listener's and connector's tlsCredentials; the names they use."""
    provided = certificate_documents.provided(documents)
    for document in documents:
        if isinstance(document.resource, res.Secret):
            provided[document.resource.name] = set(document.resource.data)
    used: set[str | None] = set()
    for document in documents:
        resource = document.resource
        if isinstance(resource, res.Listener | res.Connector | res.MultiKeyListener):
            service_credentials.check(resource, store, provided, document.label)
            used.add(resource.spec.tls_credentials)
    if current is not None:
        used |= {r.spec.tls_credentials for r in current.listeners}
        used |= {r.spec.tls_credentials for r in current.connectors}
        used |= {r.spec.tls_credentials for r in current.multi_key_listeners}
    return used


def _check_secret_alone(document: Document, secret: res.Secret) -> None:
    """A new site has no CA yet to compare with: check the credential itself."""
    missing = [key for key in res.TLS_SECRET_KEYS if key not in secret.data]
    if missing:
        raise SkupperError(f"{document.label}: data: lacks {', '.join(missing)}")
    try:
        certs.verify_client_credential(
            secret.pem(certs.CA_FILE), secret.pem(certs.CERT_FILE), secret.pem(certs.KEY_FILE)
        )
    except SkupperError as error:
        raise SkupperError(f"{document.label}: data: {error}") from None


def _check_listeners(documents: list[Document], current: res.SiteResources | None) -> None:
    existing: dict[str, res.Listener | res.MultiKeyListener] = {}
    if current is not None:
        existing = {item.name: item for item in current.listeners}
        existing |= {item.name: item for item in current.multi_key_listeners}
    taken: dict[int, Document] = {}
    for document in documents:
        listener = document.resource
        if not isinstance(listener, res.Listener | res.MultiKeyListener):
            continue
        port = listener.spec.port
        if port in taken:
            raise SkupperError(
                f"{document.label}: spec.port: {port} is also the port of document "
                f"{taken[port].index}"
            )
        taken[port] = document
        before = existing.get(listener.name)
        if (
            before is not None
            and before.spec.port == port
            and before.spec.host == listener.spec.host
        ):
            continue
        try:
            ports.require_free(listener.spec.host, port, what=f"listener {listener.name}")
        except SkupperError as error:
            raise SkupperError(f"{document.label}: spec.port: {error}") from None


def apply_documents(
    namespace: str, documents: list[Document], *, platform: str | None = None
) -> Outcome:
    """Create or update the site of `namespace` from `documents` (see module docstring)."""
    plan = _plan(namespace, documents)
    outcome = Outcome()
    store = plan.store
    current = plan.current
    if current is None:
        _create_site(namespace, plan, platform)
        outcome.site_created = True
        outcome.created.append(key(plan.site))
        current = store.load()
    elif plan.site != current.site:
        store.write(plan.site)
        outcome.updated.append(key(plan.site))
    elif any(d.kind == "Site" for d in documents):
        outcome.unchanged.append(key(plan.site))
    existing: dict[str, res.Resource] = {}
    for group in (
        current.links,
        current.secrets,
        current.listeners,
        current.connectors,
        current.multi_key_listeners,
    ):
        existing |= {key(r): r for r in group}
    for document in documents:
        if isinstance(
            document.resource,
            res.Site
            | res.RouterAccess
            | res.AccessGrant
            | res.AccessToken
            | res.Certificate
            | res.SecuredAccess,
        ):
            continue
        _write_one(store, document.resource, existing.get(key(document.resource)), outcome)
    # after the Secrets they may use (a RouterAccess's folder is not its Secret's alone)
    certificate_documents.write(store, documents, outcome)
    if plan.access is not None:
        _write_access(store, plan, current.router_access, outcome)
    for document in documents:
        if isinstance(document.resource, res.Listener | res.Connector | res.MultiKeyListener):
            service_credentials.ensure(store, document.resource)
    outcome.reloaded = reconfigure(store)
    grant_documents.apply(store, documents, outcome)
    return outcome


def _create_site(namespace: str, plan: _Plan, platform: str | None) -> None:
    """`site init` with the file's name, link access and ports; then the file's exact
    Site and RouterAccess replace the defaults it wrote."""
    access = plan.access
    link_access = plan.site.spec.has_link_access
    init_site(
        namespace,
        plan.site.name,
        link_access=link_access,
        bind_host=access.spec.bind_host if access and link_access else None,
        port=access.spec.port_for_role("inter-router") if access and link_access else None,
        platform=platform,
        edge=plan.site.spec.edge,
    )
    plan.store.write(plan.site)


def _write_access(
    store: SiteStore,
    plan: _Plan,
    before: res.RouterAccess | None,
    outcome: Outcome,
) -> None:
    access = plan.access
    assert access is not None
    if before == access and not _secrets(plan.documents):
        outcome.unchanged.append(key(access))
        return
    secret = router_access.brought_secret(access, _secrets(plan.documents, plan.current))
    router_access.write_credentials(store, plan.site, access, secret, before)
    if before is not None and before.name != access.name:
        store.remove("RouterAccess", before.name)
    store.write(access)
    (outcome.updated if before is not None else outcome.created).append(key(access))


def _secrets(
    documents: list[Document], current: res.SiteResources | None = None
) -> dict[str, res.Secret]:
    """The Secrets of the file, over those of the namespace."""
    found = {s.name: s for s in current.secrets} if current is not None else {}
    for document in documents:
        if isinstance(document.resource, res.Secret):
            found[document.resource.name] = document.resource
    return found


def _write_one(
    store: SiteStore, resource: res.Resource, before: res.Resource | None, outcome: Outcome
) -> None:
    if before == resource:
        outcome.unchanged.append(key(resource))
        return
    if isinstance(resource, res.Secret):
        service_credentials.write_secret(store, resource)
    store.write(resource)
    (outcome.updated if before is not None else outcome.created).append(key(resource))
