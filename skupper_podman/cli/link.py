"""`skupper-podman link`: generate, create, status, delete, revoke."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skupper_podman import site
from skupper_podman.cli.options import (
    DEFAULT_NAMESPACE,
    Format,
    Namespace,
    NoProxy,
    Proxy,
    Timeout,
    Wait,
)
from skupper_podman.cli.output import OutputFormat, output
from skupper_podman.errors import SkupperError
from skupper_podman.resources import MAX_COST
from skupper_podman.site.proxy import ProxyChoice

app = typer.Typer(help="Link sites together.", no_args_is_help=True)

Cost = Annotated[
    int | None, typer.Option("--cost", min=1, max=MAX_COST, help="Link cost (default 1).")
]
LinkName = Annotated[str | None, typer.Option("--name", help="Link name.")]


@app.command("generate")
def generate(
    *,
    name: LinkName = None,
    host: Annotated[str | None, typer.Option("--host", help="Host other sites dial.")] = None,
    cost: Cost = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Print a link file (Link + Secret YAML) for another site: '> link.yaml'."""
    output.raw(site.generate_link(namespace, name=name, host=host, cost=cost or 1))


@app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="Link file from 'link generate'.")],
    *,
    name: LinkName = None,
    cost: Cost = None,
    proxy: Proxy = None,
    no_proxy: NoProxy = False,
    wait: Wait = False,
    timeout: Timeout = 60.0,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Link this site to the site that generated FILE."""
    link, reloaded = site.create_link(
        namespace, file, name=name, cost=cost, proxy=ProxyChoice(proxy, no_proxy)
    )
    report_link_created(namespace, link.name, reloaded, wait=wait, timeout=timeout)


def report_link_created(
    namespace: str, name: str, reloaded: bool, *, wait: bool, timeout: float
) -> None:
    """What `link create` and `token redeem` say about the link they made (once it is
    up, with --wait)."""
    if not reloaded:
        output.say(f"Link {name} created.")
        output.warn("the router is not running; the link applies when it starts")
        if wait:
            raise SkupperError(f"cannot wait for link {name}: the site's router is not running")
        return
    if wait:
        up = site.wait_for_link(namespace, name, timeout)
        output.say(f"Link {name} is up: connected to site {up.remote_site or up.endpoint}.")
        return
    output.say(f"Link {name} created; see 'skupper-podman link status'.")


@app.command("status")
def status(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """Show each link: up or down, remote site, cost."""
    rows = [s.to_dict() for s in site.link_status(namespace)]
    columns = ("name", "up", "remoteSite", "cost", "endpoint", "status", "message")
    output.records(rows, output_format, columns)


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Link name.")],
    *,
    cost: Cost = None,
    proxy: Proxy = None,
    no_proxy: NoProxy = False,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Change a link's cost or the HTTP proxy it goes through."""
    choice = ProxyChoice(proxy, no_proxy) if proxy is not None or no_proxy else None
    link, reloaded = site.update_link(namespace, name, cost=cost, proxy=choice)
    output.say(f"Link {name} updated (cost {link.spec.cost}).")
    if not reloaded:
        output.warn("the router is not running; the change applies when it starts")


@app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="Link name.")],
    *,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Remove a link and its credentials."""
    reloaded = site.delete_link(namespace, name)
    output.say(f"Link {name} deleted.")
    if not reloaded:
        output.warn("the router is not running")


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The linked site (or generated link) to revoke.")],
    *,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Refuse the credentials this site issued to NAME: its links drop and stay down."""
    revoked = site.revoke_link(namespace, name)
    if revoked.certificates == 0:
        output.say(f"{name} was already revoked.")
    else:
        output.say(f"Revoked {revoked.certificates} certificate(s) issued to {name}.")
    if not revoked.reloaded:
        output.warn("the router is not running; the revocation applies when it starts")
