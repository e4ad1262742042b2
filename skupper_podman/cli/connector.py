"""`skupper-podman connector`: a routing key that reaches HOST:PORT from this site."""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman import site as core
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Namespace
from skupper_podman.cli.output import output
from skupper_podman.cli.services import add_service_commands
from skupper_podman.resources import dump_yaml
from skupper_podman.site.apply import generate_connector

app = typer.Typer(
    help="Make a service on HOST:PORT reachable by routing key.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Connector name.")]
Port = Annotated[int, typer.Argument(help="Port of the service.")]
RoutingKey = Annotated[str, typer.Option("--routing-key", help="Key listeners use.")]
Host = Annotated[str, typer.Option("--host", help="Host of the service.")]


@app.command("create")
def create(
    name: Name,
    port: Port,
    *,
    routing_key: RoutingKey,
    host: Host,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Carry connections for the routing key to the service at HOST:PORT."""
    connector, reloaded = core.create_connector(
        namespace, name, port, routing_key=routing_key, host=host
    )
    output.say(f"Connector {connector.name} created to {host}:{port} for {routing_key}.")
    if not reloaded:
        output.warn("the router is not running; the connector applies when it starts")


add_service_commands(
    app,
    "connector",
    list_resources=core.list_connectors,
    service_status=core.connector_status,
    delete_resource=core.delete_connector,
)


@app.command("generate")
def generate(name: Name, port: Port, *, routing_key: RoutingKey, host: Host) -> None:
    """Print a Connector as YAML for 'skupper-podman apply -f' (nothing is created)."""
    output.raw(dump_yaml([generate_connector(name, port, routing_key=routing_key, host=host)]))
