"""The `list`, `status` and `delete` commands that listeners and connectors share.

Both kinds are configured the same way and reported by the router the same way, so
their commands differ only in words; `add_service_commands` registers the three for
one kind. No `from __future__ import annotations` here: typer reads the parameters'
`Annotated` help, which is built from the kind, when the functions are defined.
"""

from collections.abc import Callable, Sequence
from typing import Annotated

import typer

from skupper_podman.cli.options import DEFAULT_NAMESPACE, Format, Namespace
from skupper_podman.cli.output import OutputFormat, output
from skupper_podman.resources import Resource, to_document
from skupper_podman.site import ServiceStatus

# What `status` shows of each listener or connector.
STATUS_COLUMNS = (
    "name",
    "routingKey",
    "host",
    "port",
    "status",
    "connectionsOpened",
    "bytesIn",
    "bytesOut",
    "connectionsFailed",
    "lastError",
)


def add_service_commands(
    app: typer.Typer,
    kind: str,
    *,
    list_resources: Callable[[str], Sequence[Resource]],
    service_status: Callable[[str, str | None], Sequence[ServiceStatus]],
    delete_resource: Callable[[str, str], object],
) -> None:
    """Register `list`, `status` and `delete` on `app` for `kind` ("listener", ...)."""
    title = kind.capitalize()
    name_help = typer.Argument(help=f"{title} name.")
    optional_name_help = typer.Argument(help=f"{title} name (default: all).")

    @app.command("list", help=f"List the {kind}s of the site as configured.")
    def list_(
        *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
    ) -> None:
        rows = [{"name": r.name, **to_document(r)["spec"]} for r in list_resources(namespace)]
        output.records(rows, output_format, ("name", "routingKey", "host", "port"))

    @app.command("status", help=f"Show {kind}s as the router reports them.")
    def status(
        name: Annotated[str | None, optional_name_help] = None,
        *,
        namespace: Namespace = DEFAULT_NAMESPACE,
        output_format: Format = OutputFormat.TABLE,
    ) -> None:
        rows = [s.to_dict() for s in service_status(namespace, name)]
        output.records(rows, output_format, STATUS_COLUMNS)

    @app.command("delete", help=f"Remove a {kind}.")
    def delete(
        name: Annotated[str, name_help], *, namespace: Namespace = DEFAULT_NAMESPACE
    ) -> None:
        delete_resource(namespace, name)
        output.say(f"{title} {name} deleted.")
