"""The console's web server (aiohttp): the page, its live part every two seconds, and the
same view as JSON. Pages are rendered here (Jinja2) from the flow records a collector
reads; the browser runs one small script that fetches the live part again.

Bound to loopback it needs nothing else; bound elsewhere it asks for a login token,
given once in the URL (``?token=...``) and then kept in a cookie.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from skupper_podman.console.collector import Collector
from skupper_podman.console.view import SVG_SIZE, network_view

TOKEN_COOKIE = "skupper-console-token"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Console:
    def __init__(
        self,
        collector: Collector,
        site: str,
        token: str | None,
        local_facts: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        """``local_facts``: this site's links, certificates and grants (read in a thread:
        it asks the router)."""
        self.collector = collector
        self.site = site
        self.token = token
        self.local_facts = local_facts
        self.templates = Environment(
            loader=PackageLoader("skupper_podman.console", "templates"),
            autoescape=select_autoescape(["html"]),
        )

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._login] if self.token else [])
        app.router.add_get("/", self.index)
        app.router.add_get("/live", self.live)
        app.router.add_get("/api/network", self.network)
        return app

    @web.middleware
    async def _login(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        assert self.token is not None
        given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE, "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPUnauthorized(text="log in with the URL the console printed\n")
        response = await handler(request)
        response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def _live_html(self) -> str:
        try:
            local = await asyncio.to_thread(self.local_facts)
        except Exception as error:  # the router stopped answering: say so on the page
            local = {"error": str(error)}
        seen = self.collector.snapshot()
        view = network_view(seen, int(time.time() * 1_000_000))
        return self.templates.get_template("live.html").render(
            view=view,
            routers={r.name: r for r in view.routers},
            size=SVG_SIZE,
            sources=len(seen.sources),
            local=local,
            site=self.site,
            updated=time.strftime("%H:%M:%S"),
        )

    async def index(self, request: web.Request) -> web.Response:
        page = self.templates.get_template("index.html")
        return web.Response(
            text=page.render(site=self.site, live=await self._live_html()),
            content_type="text/html",
        )

    async def live(self, request: web.Request) -> web.Response:
        return web.Response(text=await self._live_html(), content_type="text/html")

    async def network(self, request: web.Request) -> web.Response:
        view = network_view(self.collector.snapshot(), int(time.time() * 1_000_000))
        return web.json_response(view.to_dict())


async def serve(console: Console, host: str, port: int, started: Callable[[], None]) -> None:
    """Serve until cancelled (Ctrl-C); ``started`` is called once the port listens."""
    runner = web.AppRunner(console.app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        started()
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()
