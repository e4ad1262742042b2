"""`delete -f`: remove the resources a Skupper v2 YAML file names."""

from __future__ import annotations

import shutil

from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.paths import namespace_paths
from skupper_podman.site import tokens
from skupper_podman.site.documents import Document
from skupper_podman.site.lifecycle import delete_site
from skupper_podman.site.migration import open_site
from skupper_podman.site.outcome import Outcome, key
from skupper_podman.site.runtime import reconfigure
from skupper_podman.site.store import SiteStore


def delete_documents(
    namespace: str, documents: list[Document], *, ignore_not_found: bool = False
) -> Outcome:
    """Remove the resources named by `documents`; a Site document removes the whole site.
    Unless `ignore_not_found`, every named resource must exist (checked before any
    removal)."""
    outcome = Outcome()
    store = SiteStore(namespace_paths(namespace))
    site_document = next((d for d in documents if d.kind == "Site"), None)
    if site_document is not None:
        if store.has_site() and not store.has("Site", site_document.name):
            raise SkupperError(
                f"{site_document.label}: the site of namespace {namespace} is "
                f"{store.load().site.name}, not {site_document.name}"
            )
        outcome.site_deleted = delete_site(namespace)
        if not outcome.site_deleted and not ignore_not_found:
            raise SkupperError(f"no site in namespace {namespace}")
        return outcome
    store = open_site(namespace)
    current = store.load()
    links = {link.name: link for link in current.links}
    going_with_links = {
        links[d.name].spec.tls_credentials
        for d in documents
        if d.kind == "Link" and d.name in links
    }
    targets: list[Document] = []
    for document in documents:
        if document.kind == "AccessToken":
            outcome.notes.append(
                f"{document.label}: a redeemed token is its Link now; delete the Link to unlink"
            )
            continue
        found = store.has(document.kind, document.name)
        if document.kind == "Secret" and document.name in going_with_links:
            continue
        if not found:
            if not ignore_not_found:
                raise SkupperError(f"{document.label}: not found in namespace {namespace}")
            outcome.not_found.append(key(document.resource))
            continue
        if document.kind == "Secret" and any(
            link.spec.tls_credentials == document.name for link in current.links
        ):
            raise SkupperError(
                f"{document.label}: a Link still uses it; delete the Link (with its Secret)"
            )
        targets.append(document)
    for document in targets:
        if document.kind == "AccessGrant":
            tokens.delete_grant(store, document.name)
        else:
            store.remove(document.kind, document.name)
        outcome.deleted.append(key(document.resource))
        if document.kind == "Link":
            credential = links[document.name].spec.tls_credentials
            store.remove("Secret", credential)
            shutil.rmtree(store.credential_folder(credential), ignore_errors=True)
        if document.kind in ("Secret", "Certificate"):
            shutil.rmtree(store.credential_folder(document.name), ignore_errors=True)
        if isinstance(document.resource, res.SecuredAccess):
            folder = store.credential_folder(document.resource.certificate_name)
            shutil.rmtree(folder, ignore_errors=True)
    if outcome.deleted:
        outcome.reloaded = reconfigure(store)
    return outcome
