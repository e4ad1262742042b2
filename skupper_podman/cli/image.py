"""`skupper-podman image build`: the router image, from the installed package."""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman import engines, image
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
    engine_name = platform or engines.answering_engine(engines.chosen_endpoint(container_endpoint))
    if engine_name not in engines.ENGINE_NAMES:
        output.error(
            f"no container engine answers; {engines.start_hint('podman')}"
            if engine_name is None
            else f"images are for podman or docker, not {engine_name!r}"
        )
        raise typer.Exit(1)
    engine = engines.connect(engine_name, container_endpoint)
    try:
        built = image.build(engine, tag, base_image)
    finally:
        engine.close()
    output.say(f"Image {built} built in {engine_name}.")
