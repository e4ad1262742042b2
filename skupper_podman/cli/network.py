"""`skupper-podman network status`: every router, link and routing key of the network."""

from __future__ import annotations

import typer

from skupper_podman.cli.options import DEFAULT_NAMESPACE, Format, Namespace
from skupper_podman.cli.output import OutputFormat, output
from skupper_podman.cli.topology import topology
from skupper_podman.site.network import network_status

app = typer.Typer(help="Look at the whole application network.", no_args_is_help=True)


@app.command("status")
def status(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """Show every site's router, the links between them, and who serves each routing key."""
    network = network_status(namespace)
    if output_format is not OutputFormat.TABLE:
        output.record(network.to_dict(), output_format)
        return
    output.say("Topology")
    output.draw(topology(network))
    output.say("")
    routers = [
        {**r.__dict__, "reachable": "yes" if r.reachable else "no", "local": "*" if r.local else ""}
        for r in network.routers
    ]
    output.say("Routers")
    columns = ("local", "id", "mode", "site", "platform", "product", "reachable")
    output.records(routers, output_format, columns)
    output.say("\nLinks")
    links = [link.__dict__ for link in network.links]
    output.records(links, output_format, ("source", "target", "role", "cost", "state"))
    output.say("\nRouting keys")
    keys = [
        {"key": k.key, "listeners": ", ".join(k.listeners), "connectors": ", ".join(k.connectors)}
        for k in network.routing_keys
    ]
    output.records(keys, output_format, ("key", "listeners", "connectors"))
