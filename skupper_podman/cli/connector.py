"""`skupper-podman connector`: a routing key that reaches HOST:PORT from this site."""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman import site
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Namespace
from skupper_podman.cli.output import output
from skupper_podman.cli.services import add_service_commands
from skupper_podman.errors import SkupperError
from skupper_podman.resources import dump_yaml
from skupper_podman.site.generate import generate_connector

app = typer.Typer(
    help="Make a service on HOST:PORT reachable by routing key.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Connector name.")]
Port = Annotated[int, typer.Argument(help="Port of the service.")]
RoutingKey = Annotated[
    str | None,
    typer.Option("--routing-key", help="Key listeners use.  [default: the name]"),
]
Host = Annotated[
    str | None,
    typer.Option(
        "--host",
        help="Host of the service.  [default: this host: 127.0.0.1, or "
        "host.containers.internal from a podman or docker site's router]",
    ),
]
TlsCredentials = Annotated[
    str | None,
    typer.Option(
        "--tls-credentials",
        help="The service speaks TLS: a credential of the site (a Secret's name) or a folder "
        "whose ca.crt verifies the service (and tls.crt/tls.key with --use-client-cert).",
    ),
]
UseClientCert = Annotated[
    bool, typer.Option("--use-client-cert", help="Present tls.crt to the service.")
]
VerifyHostname = Annotated[
    bool,
    typer.Option(
        "--verify-hostname/--no-verify-hostname",
        help="The service's certificate must name HOST.",
    ),
]


@app.command("create")
def create(
    name: Name,
    port: Port,
    *,
    routing_key: RoutingKey = None,
    host: Host = None,
    tls_credentials: TlsCredentials = None,
    use_client_cert: UseClientCert = False,
    verify_hostname: VerifyHostname = True,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Carry connections for the routing key to the service at HOST:PORT."""
    routing_key = routing_key or name  # as Skupper: the key defaults to the name
    if tls_credentials is None and (use_client_cert or not verify_hostname):
        raise SkupperError("--use-client-cert and --no-verify-hostname need --tls-credentials")
    connector, reloaded = site.create_connector(
        namespace,
        name,
        port,
        routing_key=routing_key,
        host=host,
        tls_credentials=tls_credentials,
        use_client_cert=use_client_cert,
        verify_hostname=verify_hostname,
    )
    tls = f" (TLS, {connector.spec.tls_credentials})" if connector.spec.tls_credentials else ""
    where = f"{connector.spec.host}:{port}"
    output.say(f"Connector {connector.name} created to {where} for {routing_key}{tls}.")
    if not reloaded:
        output.warn("the router is not running; the connector applies when it starts")


@app.command("update")
def update(
    name: Name,
    *,
    routing_key: RoutingKey = None,
    host: Host = None,
    port: Annotated[int | None, typer.Option("--port", help="Port of the service.")] = None,
    tls_credentials: TlsCredentials = None,
    use_client_cert: Annotated[
        bool | None,
        typer.Option("--use-client-cert/--no-use-client-cert", help="Present tls.crt."),
    ] = None,
    verify_hostname: Annotated[
        bool | None,
        typer.Option(
            "--verify-hostname/--no-verify-hostname",
            help="The service's certificate must name HOST.",
        ),
    ] = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Change a connector; what is not given stays. Flows already open stay on the old
    service; new ones go to the new."""
    changes = {
        "routing_key": routing_key,
        "host": host,
        "port": port,
        "tls_credentials": tls_credentials,
        "use_client_cert": use_client_cert,
        "verify_hostname": verify_hostname,
    }
    connector, reloaded = site.update_service(namespace, "Connector", name, changes)
    spec = connector.spec
    output.say(f"Connector {name} updated: to {spec.host}:{spec.port} for {spec.routing_key}.")
    if not reloaded:
        output.warn("the router is not running; the change applies when it starts")


add_service_commands(
    app,
    "connector",
    list_resources=site.list_connectors,
    service_status=site.connector_status,
    delete_resource=site.delete_connector,
)


@app.command("generate")
def generate(
    name: Name,
    port: Port,
    *,
    host: Annotated[str, typer.Option("--host", help="Host of the service.")],
    routing_key: RoutingKey = None,
) -> None:
    """Print a Connector as YAML for 'skupper-podman apply -f' (nothing is created)."""
    connector = generate_connector(name, port, routing_key=routing_key or name, host=host)
    output.raw(dump_yaml([connector]))
