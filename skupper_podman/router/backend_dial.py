"""Reaching a tcpConnector's backend: the dial of a flow, and the probe of a backend out
of rotation."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from .sockets import describe_os_error

NAME_LOOKUP_TRIES = 3  # a backend's name, when the DNS answers "try again"
PROBE_TIMEOUT = 5.0  # seconds a probe of a backend out of rotation waits for it


async def connect(dial: Callable[[], Awaitable[None]]) -> None:
    """``dial`` the backend; a name lookup that failed for now is asked again.

    "Temporary failure in name resolution" came from an engine's DNS server (aardvark on
    rootless Podman) that did not answer in time for a backend container started just
    before: found by the rootless engine test whose request was closed unanswered.
    """
    for attempt in range(NAME_LOOKUP_TRIES):
        try:
            await dial()
            return
        except socket.gaierror as error:
            if error.errno != socket.EAI_AGAIN or attempt == NAME_LOOKUP_TRIES - 1:
                raise
            await asyncio.sleep(0.2)


async def probe(loop: asyncio.AbstractEventLoop, host: str, port: int) -> str:
    """Whether the backend accepts a connection: "" if it does, else why not."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            transport, _ = await loop.create_connection(asyncio.Protocol, host, port)
        transport.abort()
    except TimeoutError:
        return "no answer"
    except OSError as error:
        return describe_os_error(error)
    return ""
