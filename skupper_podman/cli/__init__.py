"""The skupper-podman command line: thin commands over skupper_podman.site.

`main` is the console entry point. Errors reach the user through one place
(cli/errors.py) and output through one object (cli/output.py).
"""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman import progress
from skupper_podman.cli import apply as declarative
from skupper_podman.cli import (
    bundle,
    connector,
    console,
    debug,
    flows,
    image,
    link,
    listener,
    network,
    site,
    system,
    token,
    version,
)
from skupper_podman.cli.errors import ErrorReportingGroup, debugging
from skupper_podman.cli.output import output

app = typer.Typer(
    cls=ErrorReportingGroup,
    help="Skupper-compatible application networks on Linux hosts, Podman and Docker.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


@app.callback()
def _options(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only results and errors: no progress, no hints.")
    ] = False,
) -> None:
    output.quiet = quiet
    progress.show_with(output.progress)


app.add_typer(site.app, name="site")
app.add_typer(link.app, name="link")
app.add_typer(listener.app, name="listener")
app.add_typer(connector.app, name="connector")
app.add_typer(token.app, name="token")
app.add_typer(network.app, name="network")
app.add_typer(image.app, name="image")
app.add_typer(system.app, name="system")
app.add_typer(bundle.app, name="bundle")
app.add_typer(debug.app, name="debug")
app.command("apply")(declarative.apply)
app.command("delete")(declarative.delete)
app.command("version")(version.version)
app.command("flows")(flows.flows)
app.command("console")(console.console)


def main() -> None:
    """Console entry point."""
    app(prog_name="skupper-podman")


__all__ = ["app", "debugging", "main"]
