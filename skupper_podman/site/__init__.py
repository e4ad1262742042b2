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
)
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
)

__all__ = [
    "LinkStatus",
    "ServiceStatus",
    "SiteStatus",
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
    "link_status",
    "list_connectors",
    "list_listeners",
    "listener_status",
    "site_status",
]
