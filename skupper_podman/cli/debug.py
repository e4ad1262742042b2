"""`skupper-podman debug`: what to attach to a bug report."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer

from skupper_podman.cli.options import DEFAULT_NAMESPACE, Namespace
from skupper_podman.cli.output import output
from skupper_podman.site.debug_dump import debug_dump

app = typer.Typer(help="Collect what a bug report needs.", no_args_is_help=True)


@app.command("dump")
def dump(
    file: Annotated[
        Path | None,
        typer.Argument(help="The tarball to write (default: skupper-dump-NAMESPACE-TIME.tar.gz)."),
    ] = None,
    *,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Write versions, status, resources, router config, certificates and the router's
    log to one tarball; private keys and grant codes are left out."""
    if file is None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        file = Path(f"skupper-dump-{namespace}-{stamp}.tar.gz")
    members = debug_dump(namespace, file)
    output.say(f"Wrote {file} ({len(members)} files).")
