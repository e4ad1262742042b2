"""Options shared by every command group."""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman.cli.output import OutputFormat
from skupper_podman.paths import DEFAULT_NAMESPACE

Namespace = Annotated[
    str,
    typer.Option("--namespace", "-n", help="The namespace of the site.", show_default=True),
]
Format = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="table, json or yaml.", show_default=True)
]

__all__ = ["DEFAULT_NAMESPACE", "ContainerEndpoint", "Format", "Namespace"]

ContainerEndpoint = Annotated[
    str | None,
    typer.Option(
        "--container-endpoint",
        envvar="CONTAINER_ENDPOINT",
        help="Podman or Docker API socket (default: the engine's usual socket).",
    ),
]

Proxy = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        help="Link through this HTTP proxy: http://[user:password@]host:port "
        "(default: HTTPS_PROXY unless NO_PROXY names the host).",
    ),
]
NoProxy = Annotated[
    bool, typer.Option("--no-proxy", help="Link directly, whatever HTTPS_PROXY says.")
]

Wait = Annotated[
    bool,
    typer.Option("--wait", help="Wait until the link is up (up to --timeout); fail if it is not."),
]
Timeout = Annotated[
    float, typer.Option("--timeout", min=1, help="Seconds --wait waits.", show_default=True)
]
