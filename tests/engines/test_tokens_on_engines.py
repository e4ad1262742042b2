"""Access tokens on container sites: the grant server runs in the router's container.

A Podman or Docker site issues a one-use token; a linux site on the host redeems it
(the CLI posts to the grant server's published port), links, and carries a flow to a
backend container; a second redemption is refused by the container's grant records;
`link revoke` on the container site drops the link and keeps it down. The container's
metrics are read on the way, from their unix socket in the site folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.engines.conftest import Target
from tests.engines.test_sites import (
    BACKEND_PORT,
    BACKEND_SCRIPT,
    INDEX,
    fetch,
    run_test_container,
    status,
    wait_for,
)
from tests.ports import free_port
from tests.router.test_metrics import scrape_unix


def links(target: Target, home: Path, namespace: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = status(target, home, "link", "status", "-n", namespace)
    return found


def test_container_site_issues_a_token_a_host_site_redeems_it_and_revoke_drops_it(
    target: Target,
) -> None:
    home = target.new_home()
    grant_port = free_port()
    web_port = free_port()
    target.cli("site", "init", "hub", "-n", "hub", "--link-access", "--bind-host", "127.0.0.1",
               "--port", str(free_port()), "--grant-port", str(grant_port), home=home)  # fmt: skip
    backend = f"token-backend-{home.name}"
    run_test_container(
        target, "skupper-hub", backend, "-d", target.base_image, "sh", "-c", BACKEND_SCRIPT
    )
    try:
        target.cli("connector", "create", "web", str(BACKEND_PORT), "--routing-key", "web",
                   "--host", backend, "-n", "hub", home=home)  # fmt: skip
        token = home / "token.yaml"
        token.write_text(
            target.cli(
                "token", "issue", "--name", "once", "--host", "127.0.0.1", "-n", "hub", home=home
            ).stdout
        )
        token.chmod(0o644)

        for namespace in ("spoke", "late"):
            target.cli("site", "init", namespace, "-n", namespace, "--platform", "linux",
                       home=home)  # fmt: skip
        target.cli("token", "redeem", str(token), "--name", "to-hub", "-n", "spoke", home=home)
        target.cli("listener", "create", "web", str(web_port), "--routing-key", "web",
                   "-n", "spoke", home=home)  # fmt: skip
        wait_for("the redeemed link up", lambda: links(target, home, "spoke")[0]["up"])
        page = wait_for("the page through the link", lambda: fetch(web_port, "index.html"))
        assert page.decode().strip() == INDEX

        # The container's metrics: on a unix socket in the site folder, not on a port.
        socket_path = home / "namespaces" / "hub" / "sockets" / "metrics.sock"
        hub_status = status(target, home, "site", "status", "-n", "hub")
        assert hub_status["metrics"] == f"unix:{socket_path}"
        samples = scrape_unix(socket_path)
        labels = 'router="hub",tcp_connector="web",address="web"'
        assert samples[f"skupper_router_tcp_connector_connections_opened_total{{{labels}}}"] >= 1

        # The container's grant records counted the redemption: a second one is refused.
        refused = target.cli("token", "redeem", str(token), "-n", "late", home=home, check=False)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            f"error: token refused by the grant server at 127.0.0.1:{grant_port}: "
            "the token was already redeemed 1 of 1 times"
        )
        assert links(target, home, "late") == []
        (grant,) = status(target, home, "token", "list", "-n", "hub")
        assert grant["status"] == "used up" and grant["redeemedBy"] == ["spoke"]

        revoked = target.cli("link", "revoke", "spoke", "-n", "hub", home=home).stdout
        assert revoked == "Revoked 1 certificate(s) issued to spoke.\n"
        wait_for("the revoked link down", lambda: not links(target, home, "spoke")[0]["up"], 10)
        time.sleep(3)  # it redials meanwhile, and is refused each time
        (link,) = links(target, home, "spoke")
        assert not link["up"]
        assert link["message"] == "amqp:unauthorized-access: certificate revoked"
    finally:
        target.tool("rm", "-f", backend)
        for namespace in ("spoke", "late", "hub"):
            target.cli("site", "delete", "-n", namespace, home=home, check=False)
