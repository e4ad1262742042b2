"""`skupper-podman version`: this CLI's version and, for a site, what runs its router."""

from __future__ import annotations

from skupper_podman import site
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Format, Namespace
from skupper_podman.cli.output import OutputFormat, output


def version(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """Show the versions of the CLI, and of the site's router and engine when it has one."""
    found = site.versions(namespace).to_dict()
    output.record({k: v for k, v in found.items() if v is not None}, output_format)
