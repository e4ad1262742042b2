"""`skupper-podman connector`: a routing key that reaches HOST:PORT from this site."""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman import site as core
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Format, Namespace
from skupper_podman.cli.output import OutputFormat, output
from skupper_podman.resources import dump_yaml, to_document
from skupper_podman.site.apply import generate_connector

app = typer.Typer(
    help="Make a service on HOST:PORT reachable by routing key.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Connector name.")]
COLUMNS = (
    "name",
    "routingKey",
    "host",
    "port",
    "status",
    "connectionsOpened",
    "bytesIn",
    "bytesOut",
)


@app.command("create")
def create(
    name: Name,
    port: Annotated[int, typer.Argument(help="Port of the service.")],
    *,
    routing_key: Annotated[str, typer.Option("--routing-key", help="Key listeners use.")],
    host: Annotated[str, typer.Option("--host", help="Host of the service.")],
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Carry connections for the routing key to the service at HOST:PORT."""
    connector, reloaded = core.create_connector(
        namespace, name, port, routing_key=routing_key, host=host
    )
    output.say(f"Connector {connector.name} created to {host}:{port} for {routing_key}.")
    if not reloaded:
        output.warn("the router is not running; the connector applies when it starts")


@app.command("list")
def list_(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """List the connectors of the site as configured."""
    rows = [{"name": r.name, **to_document(r)["spec"]} for r in core.list_connectors(namespace)]
    output.records(rows, output_format, ("name", "routingKey", "host", "port"))


@app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="Connector name (default: all).")] = None,
    *,
    namespace: Namespace = DEFAULT_NAMESPACE,
    output_format: Format = OutputFormat.TABLE,
) -> None:
    """Show connectors as the router reports them."""
    rows = [s.to_dict() for s in core.connector_status(namespace, name)]
    output.records(rows, output_format, COLUMNS)


@app.command("delete")
def delete(name: Name, *, namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Remove a connector."""
    core.delete_connector(namespace, name)
    output.say(f"Connector {name} deleted.")


@app.command("generate")
def generate(
    name: Name,
    port: Annotated[int, typer.Argument(help="Port of the service.")],
    *,
    routing_key: Annotated[str, typer.Option("--routing-key", help="Key listeners use.")],
    host: Annotated[str, typer.Option("--host", help="Host of the service.")],
) -> None:
    """Print a Connector as YAML for 'skupper-podman apply -f' (nothing is created)."""
    output.raw(dump_yaml([generate_connector(name, port, routing_key=routing_key, host=host)]))
