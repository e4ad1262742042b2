"""Skupper v2 YAML of a site or of one listener or connector, for `apply -f`."""

from __future__ import annotations

from skupper_podman import resources as res
from skupper_podman.site.documents import site_documents
from skupper_podman.site.migration import open_site


def generate_site(namespace: str) -> list[res.Resource]:
    """All resources of the site of `namespace`, in the order `apply` takes them."""
    return site_documents(open_site(namespace).load())


def generate_listener(name: str, port: int, *, routing_key: str, host: str) -> res.Listener:
    """A Listener document from command-line values (nothing is created)."""
    with res.user_input(f"listener {name}"):
        return res.Listener(
            metadata=res.Metadata(name=name),
            spec=res.ListenerSpec(routing_key=routing_key, host=host, port=port),
        )


def generate_connector(name: str, port: int, *, routing_key: str, host: str) -> res.Connector:
    """A Connector document from command-line values (nothing is created)."""
    with res.user_input(f"connector {name}"):
        return res.Connector(
            metadata=res.Metadata(name=name),
            spec=res.ConnectorSpec(routing_key=routing_key, host=host, port=port),
        )
