"""Accepting TLS clients on a listener whose certificate may change between two accepts.

asyncio binds one context to a server for good, and reports a failed handshake to nobody.
A rotated certificate must reach the next client without a restart, and a refused client
must be counted and said why. So the listener accepts plain sockets itself and hands each
one to ``loop.connect_accepted_socket`` with the context of the moment; the handshake's
outcome comes back to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable

from .service_tls import HANDSHAKE_TIMEOUT

ProtocolFactory = Callable[[], asyncio.Protocol]


class TlsServer:
    """Accepts on ``sock``; each client's handshake runs in its own task."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        context: Callable[[], ssl.SSLContext],
        protocol: ProtocolFactory,
        refused: Callable[[BaseException], None],
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._context = context
        self._protocol = protocol
        self._refused = refused
        self._handshakes: set[asyncio.Task[None]] = set()
        self._accepting = loop.create_task(self._accept())

    async def _accept(self) -> None:
        while True:
            try:
                client, _ = await self._loop.sock_accept(self._sock)
            except OSError as error:  # out of file descriptors, ...: back off a little
                self._refused(error)
                await asyncio.sleep(0.1)
                continue
            task = self._loop.create_task(self._handshake(client))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, client: socket.socket) -> None:
        try:
            context = self._context()
            await self._loop.connect_accepted_socket(
                self._protocol, client, ssl=context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
            )
        except asyncio.CancelledError:
            client.close()
            raise
        except Exception as error:
            client.close()
            self._refused(error)

    def close(self) -> None:
        self._accepting.cancel()
        for task in list(self._handshakes):
            task.cancel()
        with contextlib.suppress(OSError):
            self._sock.close()
