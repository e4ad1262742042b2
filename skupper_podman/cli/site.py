"""`skupper-podman site`: init, status, delete."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from skupper_podman import site
from skupper_podman.cli.options import DEFAULT_NAMESPACE, ContainerEndpoint, Format, Namespace
from skupper_podman.cli.output import OutputFormat, output
from skupper_podman.errors import SkupperError
from skupper_podman.resources import dump_yaml
from skupper_podman.site import rotation, site_update
from skupper_podman.site.generate import generate_site

app = typer.Typer(help="Create, inspect and delete the site of a namespace.", no_args_is_help=True)


@app.command("init")
def init(
    name: Annotated[str | None, typer.Argument(help="Site name (default: the namespace).")] = None,
    *,
    link_access: Annotated[
        bool,
        typer.Option(
            "--link-access", "--enable-link-access", help="Accept links from other sites."
        ),
    ] = False,
    bind_host: Annotated[
        str | None, typer.Option("--bind-host", help="Address for link access (default: all).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Link access port (default: 55671 or next free).")
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            "-p",
            help="podman, docker or linux (default: podman if it answers, else docker, "
            "else linux).",
        ),
    ] = None,
    container_endpoint: ContainerEndpoint = None,
    router_image: Annotated[
        str | None,
        typer.Option("--router-image", help="Router image (default: ours, built if missing)."),
    ] = None,
    subject_alternative_names: Annotated[
        list[str] | None,
        typer.Option("--subject-alternative-name", help="Another name or address for link access."),
    ] = None,
    grant_port: Annotated[
        int | None,
        typer.Option("--grant-port", help="Token redemption port (default: 9090 or next free)."),
    ] = None,
    edge: Annotated[
        bool, typer.Option("--edge", help="An edge site: links to one interior site at a time.")
    ] = False,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Create a site: certificates, router config, and a running router (also: site create)."""
    status = site.init_site(
        namespace,
        name,
        link_access=link_access,
        bind_host=bind_host,
        port=port,
        platform=platform,
        grant_port=grant_port,
        edge=edge,
        container_endpoint=container_endpoint,
        router_image=router_image,
        subject_alternative_names=tuple(subject_alternative_names or ()),
    )
    output.say(f"Site {status.name} is running on {status.platform} in namespace {namespace}.")
    flag = "" if namespace == DEFAULT_NAMESPACE else f" -n {namespace}"
    if status.link_access_port is not None:
        output.say(f"It accepts links on port {status.link_access_port}. Next:")
        output.say(f"  skupper-podman link generate{flag} > link.yaml   # then, on the other site:")
        output.say("  skupper-podman link create link.yaml")
    else:
        output.say("Next: link it to a site with link access (skupper-podman link create FILE),")
    output.say(f"  skupper-podman listener create{flag} NAME PORT [--routing-key KEY]")
    output.say(
        f"  skupper-podman connector create{flag} NAME PORT [--host HOST] [--routing-key KEY]"
    )


# Skupper's verb for it; listed once, under init
app.command("create", hidden=True)(init)


@app.command("status")
def status(
    *, namespace: Namespace = DEFAULT_NAMESPACE, output_format: Format = OutputFormat.TABLE
) -> None:
    """Show whether the site's router runs and answers, and the health of its links."""
    show_status(site.site_status(namespace), output_format)


def show_status(
    found: site.SiteStatus, output_format: OutputFormat, extra: dict[str, Any] | None = None
) -> None:
    """Print a site's status (with ``extra`` facts); exit 1 if its router does not answer."""
    if output_format is OutputFormat.TABLE:
        output.record({**_summary(found), **(extra or {})}, output_format)
    else:
        output.record({**found.to_dict(), **(extra or {})}, output_format)
    if not found.router_answering:
        raise typer.Exit(1)


def _summary(found: site.SiteStatus) -> dict[str, Any]:
    """The table form: one line a fact, one line a link."""
    row = found.to_dict()
    router = row.pop("router")
    row["mode"] = router.get("mode", "-")
    row["version"] = router.get("version", "-")
    row["links"] = (
        "; ".join(
            f"{link['name']} {'up' if link['up'] else 'DOWN'}"
            + (f" to {link['remoteSite']}" if link["remoteSite"] else "")
            + f" (cost {link['cost']})"
            + (f": {link['error']}" if link.get("error") else "")
            for link in found.links
        )
        or "none"
    )
    row["linkedSites"] = ", ".join(found.linked_sites) or "none"
    row["serviceErrors"] = "; ".join(found.service_errors) or "none"
    row["certificateWarnings"] = "; ".join(found.certificate_warnings) or "none"
    return row


@app.command("delete")
def delete(*, namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Stop the router and remove everything of the site (nothing to do is fine)."""
    if site.delete_site(namespace):
        output.say(f"Site in namespace {namespace} deleted.")
    else:
        output.say(f"No site in namespace {namespace}: nothing to delete.")


@app.command("generate")
def generate(*, namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Print all of the site's resources as YAML that 'skupper-podman apply -f' reproduces
    (it holds the links' private keys: keep it like a link file)."""
    output.raw(dump_yaml(generate_site(namespace)))


@app.command("update")
def update(
    *,
    link_access: Annotated[
        bool | None,
        typer.Option(
            "--link-access/--no-link-access",
            "--enable-link-access/--disable-link-access",
            help="Accept links from other sites, or stop accepting them.",
        ),
    ] = None,
    bind_host: Annotated[
        str | None, typer.Option("--bind-host", help="Address for link access (default: all).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Link access port.")] = None,
    grant_port: Annotated[
        int | None, typer.Option("--grant-port", help="Token redemption port.")
    ] = None,
    subject_alternative_names: Annotated[
        list[str] | None,
        typer.Option("--subject-alternative-name", help="Another name or address for links."),
    ] = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Change a site: turn its link access on or off (identity, links and services stay)."""
    if link_access is None:
        raise SkupperError("nothing to change: give --link-access or --no-link-access")
    updated = site_update.update_link_access(
        namespace,
        link_access,
        bind_host=bind_host,
        port=port,
        grant_port=grant_port,
        subject_alternative_names=tuple(subject_alternative_names or ()),
    )
    how = " (its router was made again to publish the ports)" if updated.restarted else ""
    output.say(f"Site in namespace {namespace}: {updated.summary}{how}.")
    if not updated.running:
        output.warn("the router is not running; the change applies when it starts")


@app.command("rotate-certs")
def rotate_certs(
    *,
    ca: Annotated[
        bool,
        typer.Option(
            "--ca",
            help="Renew the site CA: new links and tokens use the new CA at once; linked "
            "sites keep working until --finish.",
        ),
    ] = False,
    finish: Annotated[
        bool,
        typer.Option(
            "--finish",
            help="With --ca: serve a certificate of the new CA, stop trusting the previous "
            "one and revoke what it signed.",
        ),
    ] = False,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Renew the link access server certificate (same CA, same names), or the site CA."""
    if finish and not ca:
        raise SkupperError("--finish ends a CA rotation: use it with --ca")
    if not ca:
        rotated = rotation.rotate_server_certificate(namespace)
    elif finish:
        rotated = rotation.finish_ca_rotation(namespace)
    else:
        rotated = rotation.start_ca_rotation(namespace)
    applied = "" if rotated.reloaded else " (the router is stopped: it takes it at start)"
    output.say(f"Site in namespace {namespace}: {rotated.summary}{applied}.")
    for note in rotated.notes:
        output.hint(note)
