"""The Prometheus endpoint: ``GET /metrics`` on loopback or a unix socket."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING

from . import metrics

if TYPE_CHECKING:
    from .view import RouterView


async def start_metrics_server(
    view: RouterView, *, host: str = "", port: int = 0, path: str = ""
) -> asyncio.AbstractServer:
    """Serve ``GET /metrics`` (Prometheus text) to loopback clients, or on the unix socket
    ``path`` (replacing a stale one a killed router left)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if path.split(b"?")[0] in (b"/metrics", b"/"):
                body, status = metrics.render(view).encode(), b"200 OK"
            else:
                body, status = b"not found\n", b"404 Not Found"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; version=0.0.4"
                b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return await asyncio.start_unix_server(answer, path)
    return await asyncio.start_server(answer, host, port)
