"""`skupper-podman flows`: the site's TCP flows, live and recently ended."""

from __future__ import annotations

from skupper_podman.cli.options import DEFAULT_NAMESPACE, Format, Namespace
from skupper_podman.cli.output import OutputFormat, output
from skupper_podman.site.flows import flows as site_flows

COLUMNS = ("name", "side", "via", "address", "state", "bytesIn", "bytesOut", "uptimeSeconds",
           "latencyMs")  # fmt: skip


def flows(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """List the site's TCP flows: live ones, then the last that ended (bytes each way,
    duration, and for a client's flow the time to the first byte of the reply)."""
    output.records(site_flows(namespace), output_format, COLUMNS)
