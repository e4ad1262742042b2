"""Which HTTP proxy a new link (and its token redemption) goes through: the one asked for
(``--proxy``), none (``--no-proxy``), else the environment's ``HTTPS_PROXY`` unless
``NO_PROXY`` names the host. The choice is written on the Link (``settings.proxy``), so
the router uses it however it is started (systemd, a container) and `link status` shows it.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from skupper_podman.errors import SkupperError
from skupper_podman.router.http_proxy import ProxyError, ProxyUrl


@dataclass(frozen=True)
class ProxyChoice:
    """``proxy=None``: from the environment; ``proxy=""`` or ``no_proxy``: none."""

    proxy: str | None = None
    no_proxy: bool = False

    def url_for(self, host: str) -> str:
        """The proxy URL for reaching ``host``, "" for none; a bad URL is a SkupperError."""
        if self.no_proxy:
            return ""
        chosen, source = self.proxy, "--proxy"
        if chosen is None:
            environment = urllib.request.getproxies_environment()
            chosen, source = environment.get("https", ""), "HTTPS_PROXY"
            if chosen and urllib.request.proxy_bypass(host):
                return ""
        if not chosen:
            return ""
        try:
            ProxyUrl.parse(chosen)
        except ProxyError as error:
            raise SkupperError(f"{source}: {error}") from None
        return chosen


def shown(url: str) -> str:
    """A proxy URL as status shows it: host:port, without credentials."""
    if not url:
        return ""
    try:
        return ProxyUrl.parse(url).where
    except ProxyError:
        return "invalid"


def without_password(url: str, mark: str) -> str:
    """The proxy URL with its password (if any) replaced by ``mark`` (for a debug dump)."""
    scheme, found, rest = url.rpartition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{found}{user}:{mark}@{host}"
