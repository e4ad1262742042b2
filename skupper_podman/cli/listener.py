"""`skupper-podman listener`: a local port that reaches a routing key."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from skupper_podman import site
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Namespace
from skupper_podman.cli.output import output
from skupper_podman.cli.services import add_service_commands
from skupper_podman.resources import dump_yaml
from skupper_podman.site.generate import generate_listener

app = typer.Typer(help="Expose a routing key on a local port.", no_args_is_help=True)


class ListenerObserver(enum.StrEnum):
    auto = "auto"
    none = "none"
    http1 = "http1"
    http2 = "http2"


Name = Annotated[str, typer.Argument(help="Listener name.")]
Port = Annotated[int, typer.Argument(help="Local port to listen on.")]
RoutingKey = Annotated[
    str | None,
    typer.Option("--routing-key", help="Where connections go.  [default: the name]"),
]
Host = Annotated[str, typer.Option("--host", help="Local address.")]
TlsCredentials = Annotated[
    str | None,
    typer.Option(
        "--tls-credentials",
        help="Clients speak TLS: a credential of the site (a Secret's name; made from the "
        "site's service CA if there is none) or a folder with tls.crt, tls.key and ca.crt.",
    ),
]

ObserverOption = Annotated[
    ListenerObserver | None,
    typer.Option(
        "--observer",
        help="What to read the clients' flows for: HTTP requests counted per service "
        "(auto: HTTP/1.x or HTTP/2 when a flow is one; none: nothing).  [default: auto]",
    ),
]


@app.command("create")
def create(
    name: Name,
    port: Port,
    *,
    routing_key: RoutingKey = None,
    host: Host = "127.0.0.1",
    tls_credentials: TlsCredentials = None,
    observer: ObserverOption = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Listen on HOST:PORT and carry each connection to a connector for the routing key."""
    routing_key = routing_key or name  # as Skupper: the key defaults to the name
    listener, reloaded = site.create_listener(
        namespace,
        name,
        port,
        routing_key=routing_key,
        host=host,
        tls_credentials=tls_credentials,
        observer=observer.value if observer else None,
    )
    tls = f" (TLS, {listener.spec.tls_credentials})" if listener.spec.tls_credentials else ""
    output.say(f"Listener {listener.name} created on {host}:{port} for {routing_key}{tls}.")
    if not reloaded:
        output.warn("the router is not running; the listener applies when it starts")


@app.command("update")
def update(
    name: Name,
    *,
    routing_key: RoutingKey = None,
    host: Annotated[str | None, typer.Option("--host", help="Local address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Local port.")] = None,
    tls_credentials: TlsCredentials = None,
    observer: ObserverOption = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Change a listener; what is not given stays. On a new port the old one closes."""
    changes = {
        "routing_key": routing_key,
        "host": host,
        "port": port,
        "tls_credentials": tls_credentials,
        "observer": observer.value if observer else None,
    }
    listener, reloaded = site.update_service(namespace, "Listener", name, changes)
    spec = listener.spec
    output.say(f"Listener {name} updated: on {spec.host}:{spec.port} for {spec.routing_key}.")
    if not reloaded:
        output.warn("the router is not running; the change applies when it starts")


add_service_commands(
    app,
    "listener",
    list_resources=site.list_listeners,
    service_status=site.listener_status,
    delete_resource=site.delete_listener,
)


@app.command("generate")
def generate(
    name: Name, port: Port, *, routing_key: RoutingKey = None, host: Host = "127.0.0.1"
) -> None:
    """Print a Listener as YAML for 'skupper-podman apply -f' (nothing is created)."""
    listener = generate_listener(name, port, routing_key=routing_key or name, host=host)
    output.raw(dump_yaml([listener]))
