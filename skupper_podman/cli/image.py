"""`skupper-podman image build`: the router image, from the installed package."""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman import image
from skupper_podman.cli.options import ContainerEndpoint
from skupper_podman.cli.output import output

app = typer.Typer(
    help="The router image for the podman and docker platforms.", no_args_is_help=True
)


@app.command("build")
def build(
    *,
    platform: Annotated[
        str | None, typer.Option("--platform", help="podman or docker (default: which answers).")
    ] = None,
    container_endpoint: ContainerEndpoint = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base-image",
            envvar=image.BASE_IMAGE_VARIABLE,
            help="Base image with python3 (default: python:<this Python's version>-slim).",
        ),
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Image name.")] = None,
) -> None:
    """Build the router image in Podman or Docker, without any registry but the base."""
    built, engine_name = image.build_in(platform, container_endpoint, tag, base_image)
    output.say(f"Image {built} built in {engine_name}.")
