"""`skupper-podman console`: a web console of the whole network, served by this site."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import secrets
from typing import Annotated

import typer

from skupper_podman.cli.options import DEFAULT_NAMESPACE, Namespace
from skupper_podman.cli.output import output
from skupper_podman.console.collector import site_collector
from skupper_podman.console.server import LOOPBACK, Console, serve
from skupper_podman.errors import SkupperError
from skupper_podman.site.console_facts import local_facts, router_access


def console(
    *,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to serve on (elsewhere than loopback: a login token)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8080,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Serve a web console of the network: topology, services, flows (until Ctrl-C).
    It reads the flow records of every router through this site's router."""
    access = router_access(namespace)
    token = None if host in LOOPBACK else secrets.token_urlsafe(24)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    collector = site_collector(access.management_port, access.credential).start()

    def started() -> None:
        output.say(f"Console of site {access.site}: {url}  (Ctrl-C stops it)")

    try:
        with contextlib.suppress(KeyboardInterrupt):
            shown_site = Console(collector, access.site, token, lambda: local_facts(namespace))
            asyncio.run(serve(shown_site, host, port, started))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise SkupperError(
                f"port {port} on {host} is in use: give another with --port"
            ) from None
        raise SkupperError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
    finally:
        collector.stop()
