"""``python -m skupper_podman.healthcheck SITE_FOLDER``: exit 0 when the site's router
answers a management query, 1 otherwise (the router image's HEALTHCHECK).

SITE_FOLDER is the namespace folder as mounted in the router container (/site): the
management port comes from runtime/platform.json and the client certificate from
certs/, exactly as the CLI does it on the host.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from skupper_podman import certs, management
from skupper_podman.errors import SkupperError


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    site = Path(arguments[0] if arguments else "/site")
    try:
        port = int(json.loads((site / "runtime" / "platform.json").read_text())["managementPort"])
        found = management.query(port, site / "certs" / certs.LOCAL_CLIENT, "router", ("id",))
    except (OSError, ValueError, KeyError, SkupperError) as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    print(f"healthy: router {found[0].get('id') if found else '?'} answers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
