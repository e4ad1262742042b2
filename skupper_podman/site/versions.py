"""What `version` reports: this CLI's version and, for a site, what runs its router."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field, replace

from skupper_podman import __version__
from skupper_podman.errors import SkupperError
from skupper_podman.paths import namespace_paths
from skupper_podman.platforms import RouterState
from skupper_podman.site.runtime import platform_of, query
from skupper_podman.site.store import SiteStore


@dataclass(frozen=True)
class Versions:
    cli: str
    python: str
    site: str | None = None  # the namespace whose site was asked, if it has one
    platform: str | None = None
    router: str | None = None  # as the running router reports it; None when it is down
    runtime: dict[str, str] = field(default_factory=dict)  # engine, router image

    def to_dict(self) -> dict[str, object]:
        return {
            "cli": self.cli,
            "python": self.python,
            "site": self.site,
            "platform": self.platform,
            "router": self.router,
            **self.runtime,
        }


def versions(namespace: str) -> Versions:
    """The CLI's version; with a site in ``namespace``, its router's and its engine's."""
    cli_only = Versions(cli=__version__, python=platform.python_version())
    store = SiteStore(namespace_paths(namespace))
    if not store.has_site():
        return cli_only
    runner = platform_of(store)
    router = None
    if runner.status(store.paths).state is RouterState.RUNNING:
        try:
            rows = query(store, "router")
            router = str(rows[0].get("version")) if rows else None
        except SkupperError:
            router = None  # running but not answering: `site status` says why
    return replace(
        cli_only,
        site=namespace,
        platform=runner.name,
        router=router,
        runtime=runner.runtime_versions(store.paths),
    )
