"""`skupper-podman listener`: a local port that reaches a routing key."""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman import site as core
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Format, Namespace
from skupper_podman.cli.output import OutputFormat, output
from skupper_podman.resources import dump_yaml, to_document
from skupper_podman.site.apply import generate_listener

app = typer.Typer(help="Expose a routing key on a local port.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Listener name.")]
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
    port: Annotated[int, typer.Argument(help="Local port to listen on.")],
    *,
    routing_key: Annotated[str, typer.Option("--routing-key", help="Where connections go.")],
    host: Annotated[str, typer.Option("--host", help="Local address.")] = "127.0.0.1",
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Listen on HOST:PORT and carry each connection to a connector for the routing key."""
    listener, reloaded = core.create_listener(
        namespace, name, port, routing_key=routing_key, host=host
    )
    output.say(f"Listener {listener.name} created on {host}:{port} for {routing_key}.")
    if not reloaded:
        output.warn("the router is not running; the listener applies when it starts")


@app.command("list")
def list_(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """List the listeners of the site as configured."""
    rows = [{"name": r.name, **to_document(r)["spec"]} for r in core.list_listeners(namespace)]
    output.records(rows, output_format, ("name", "routingKey", "host", "port"))


@app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="Listener name (default: all).")] = None,
    *,
    namespace: Namespace = DEFAULT_NAMESPACE,
    output_format: Format = OutputFormat.TABLE,
) -> None:
    """Show listeners as the router reports them."""
    rows = [s.to_dict() for s in core.listener_status(namespace, name)]
    output.records(rows, output_format, COLUMNS)


@app.command("delete")
def delete(name: Name, *, namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Remove a listener."""
    core.delete_listener(namespace, name)
    output.say(f"Listener {name} deleted.")


@app.command("generate")
def generate(
    name: Name,
    port: Annotated[int, typer.Argument(help="Local port to listen on.")],
    *,
    routing_key: Annotated[str, typer.Option("--routing-key", help="Where connections go.")],
    host: Annotated[str, typer.Option("--host", help="Local address.")] = "127.0.0.1",
) -> None:
    """Print a Listener as YAML for 'skupper-podman apply -f' (nothing is created)."""
    output.raw(dump_yaml([generate_listener(name, port, routing_key=routing_key, host=host)]))
