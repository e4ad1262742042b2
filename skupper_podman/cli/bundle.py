"""`skupper-podman bundle generate`: one file that installs the site on another host."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skupper_podman import bundle
from skupper_podman.cli.apply import read_documents
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Namespace
from skupper_podman.cli.output import output
from skupper_podman.site.generate import generate_site

app = typer.Typer(help="Carry a site to another host as one file.", no_args_is_help=True)


@app.command("generate")
def generate(
    name: Annotated[str, typer.Argument(help="Bundle name (the file is NAME.tar.gz or NAME.sh).")],
    *,
    bundle_type: Annotated[
        bundle.BundleType, typer.Option("--type", help="tarball or shell-script.")
    ] = bundle.BundleType.TARBALL,
    file: Annotated[
        str | None,
        typer.Option("--filename", "-f", help="Resources from YAML (- for stdin), not a site."),
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output", help="Folder to write the bundle into.")
    ] = Path(),
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Make NAME: the site's resources (or -f FILE's), the package and an install script
    (--platform, --namespace, --uninstall); the target makes its own site identity."""
    if file is not None:
        documents = [d.resource for d in read_documents(file)]
    else:
        documents = generate_site(namespace)
    made = bundle.generate_bundle(
        name, documents, kind=bundle_type, output=output_dir, namespace=namespace
    )
    output.say(f"Bundle {made.path} written ({made.resources} resources).")
    if not made.all_wheels:
        output.warn("dependency wheels were not available: the install will use the package index")
    run = (
        f"sh {made.path.name}"
        if bundle_type is bundle.BundleType.SHELL_SCRIPT
        else (f"tar -xzf {made.path.name} && {name}/install.sh")
    )
    output.say(f"On the other host: {run} [--platform P] [--namespace NS]; --uninstall removes it.")
