"""Site management: the library the CLI calls (no typer or rich here).

Every mutation validates first, then writes the resources, then regenerates the router
config and reloads the running router.
"""

from skupper_podman.site.lifecycle import SiteStatus, delete_site, init_site, site_status
from skupper_podman.site.links import (
    LinkStatus,
    create_link,
    delete_link,
    generate_link,
    link_status,
    update_link,
    wait_for_link,
)
from skupper_podman.site.revocation import Revoked, revoke_link
from skupper_podman.site.services import (
    ServiceStatus,
    connector_status,
    create_connector,
    create_listener,
    delete_connector,
    delete_listener,
    list_connectors,
    list_listeners,
    listener_status,
    update_service,
)
from skupper_podman.site.tokens import (
    GrantStatus,
    IssuedToken,
    issue_token,
    list_grants,
    redeem_token,
    show_token,
)
from skupper_podman.site.versions import Versions, versions

__all__ = [
    "GrantStatus",
    "IssuedToken",
    "LinkStatus",
    "Revoked",
    "ServiceStatus",
    "SiteStatus",
    "Versions",
    "connector_status",
    "create_connector",
    "create_link",
    "create_listener",
    "delete_connector",
    "delete_link",
    "delete_listener",
    "delete_site",
    "generate_link",
    "init_site",
    "issue_token",
    "link_status",
    "list_connectors",
    "list_grants",
    "list_listeners",
    "listener_status",
    "redeem_token",
    "revoke_link",
    "show_token",
    "site_status",
    "update_link",
    "update_service",
    "versions",
    "wait_for_link",
]
