"""`skupper-podman token`: issue, redeem and list access tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skupper_podman import site
from skupper_podman.cli.link import Cost, LinkName, report_link_created
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
from skupper_podman.site.proxy import ProxyChoice

app = typer.Typer(help="Link sites with one-time, expiring tokens.", no_args_is_help=True)

COLUMNS = ("name", "status", "expirationTime", "remaining", "redemptions", "redeemedBy")


@app.command("issue")
def issue(
    *,
    name: Annotated[str | None, typer.Option("--name", help="Grant name.")] = None,
    expiry: Annotated[
        str,
        typer.Option(
            "--expiry",
            "--expiration-window",
            help="How long the token can be redeemed: 30s, 15m, 2h.",
        ),
    ] = "15m",
    uses: Annotated[
        int,
        typer.Option(
            "--uses",
            "--redemptions-allowed",
            min=1,
            max=1_000_000,
            help="How many sites may redeem it.",
        ),
    ] = 1,
    cost: Cost = None,
    host: Annotated[str | None, typer.Option("--host", help="Host other sites dial.")] = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Print an access token (AccessToken YAML) for other sites: '> token.yaml'."""
    issued = site.issue_token(
        namespace, name=name, expiry=expiry, uses=uses, cost=cost or 1, host=host
    )
    output.raw(issued.token_yaml)
    if not issued.server_answering:
        output.warn(f"the grant server ({issued.grant.url}) does not answer; see the router log")


@app.command("redeem")
def redeem(
    file: Annotated[Path, typer.Argument(help="Token file from 'token issue'.")],
    *,
    name: LinkName = None,
    cost: Cost = None,
    proxy: Proxy = None,
    no_proxy: NoProxy = False,
    wait: Wait = False,
    timeout: Timeout = 60.0,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Redeem a token: get a credential from the issuing site and link to it."""
    link, reloaded = site.redeem_token(
        namespace, file, name=name, cost=cost, proxy=ProxyChoice(proxy, no_proxy)
    )
    report_link_created(namespace, link.name, reloaded, wait=wait, timeout=timeout)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Grant name (an AccessGrant's).")],
    *,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Print the access token of an existing grant: '> token.yaml'."""
    output.raw(site.show_token(namespace, name))


@app.command("list")
def list_(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """List the site's grants: expiry, remaining uses, and who redeemed them."""
    rows = [g.to_dict() for g in site.list_grants(namespace)]
    output.records(rows, output_format, COLUMNS)
