"""AccessGrant and AccessToken documents in `apply -f`, as Skupper applies them.

An AccessGrant makes a grant of this site that other sites redeem (``token show NAME``
prints its AccessToken); an AccessToken is redeemed at the site that issued it and
becomes a Link of the same name. Applying the same file again changes nothing: a grant
or a token's link that exists is left alone (a token is used once).
"""

from __future__ import annotations

from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.site import tokens
from skupper_podman.site.documents import Document
from skupper_podman.site.links import RESERVED_CREDENTIALS
from skupper_podman.site.outcome import Outcome, key
from skupper_podman.site.store import SiteStore


def check(documents: list[Document], site: res.Site) -> None:
    for document in documents:
        resource = document.resource
        if isinstance(resource, res.AccessGrant):
            if not site.spec.has_link_access or site.spec.edge:
                raise SkupperError(
                    f"{document.label}: the site has no link access: other sites could not "
                    "redeem the grant (set spec.linkAccess on the Site)"
                )
            tokens.parse_duration(resource.spec.expiration_window)
        if isinstance(resource, res.AccessToken) and resource.name in RESERVED_CREDENTIALS:
            raise SkupperError(f"{document.label}: metadata.name: {resource.name} is reserved")


def apply(store: SiteStore, documents: list[Document], outcome: Outcome) -> None:
    """Issue the grants and redeem the tokens (after the site and its router are there)."""
    namespace = store.namespace
    for document in documents:
        resource = document.resource
        if isinstance(resource, res.AccessGrant):
            if store.has("AccessGrant", resource.name):
                outcome.unchanged.append(key(resource))
                continue
            spec = resource.spec
            tokens.issue_token(
                namespace,
                name=resource.name,
                expiry=spec.expiration_window,
                uses=spec.redemptions_allowed,
                code=spec.code,
            )
            outcome.created.append(key(resource))
            outcome.notes.append(
                f"the token of AccessGrant {resource.name}: "
                f"skupper-podman token show {resource.name} -n {namespace} > token.yaml"
            )
        elif isinstance(resource, res.AccessToken):
            if store.has("Link", resource.name):
                outcome.unchanged.append(key(resource))
                continue
            link, reloaded = tokens.redeem(namespace, resource, document.label)
            outcome.created.append(f"Link {link.name}")
            outcome.reloaded = outcome.reloaded or reloaded
