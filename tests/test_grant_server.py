"""The grant server's socket side in one event loop: HTTPS with the site certificate,
bad requests answered and closed, and restarts when the config changes on reload."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path

from skupper_podman import certs
from skupper_podman.router.config import (
    GrantServerSettings,
    RouterConfig,
    RouterSettings,
    SslProfile,
)
from skupper_podman.router.grants import GrantServerRunner
from tests.ports import free_port

LOG = logging.getLogger("test-grants")


def _profile(tmp_path: Path) -> tuple[SslProfile, ssl.SSLContext]:
    ca = certs.new_ca("site CA")
    server = certs.issue_server_cert(ca, "east", ["127.0.0.1"])
    certs.write_credential(tmp_path / "server", server.files())
    folder = tmp_path / "server"
    profile = SslProfile(
        name="server",
        caCertFile=str(folder / "ca.crt"),
        certFile=str(folder / "tls.crt"),
        privateKeyFile=str(folder / "tls.key"),
    )
    return profile, ssl.create_default_context(cadata=ca.cert_pem().decode())


def _config(profile: SslProfile, port: int | None, grants_dir: Path) -> RouterConfig:
    settings = (
        GrantServerSettings(
            port=port, host="127.0.0.1", sslProfile=profile.name, grantsDir=str(grants_dir)
        )
        if port is not None
        else None
    )
    return RouterConfig(
        router=RouterSettings(id="east"),
        ssl_profiles={profile.name: profile},
        grant_server=settings,
    )


async def _ask(port: int, context: ssl.SSLContext, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write(request)
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return answer


def test_requests_and_restarts(tmp_path: Path) -> None:
    profile, client = _profile(tmp_path)
    first_port, second_port = free_port(), free_port()

    async def scenario() -> None:
        runner = GrantServerRunner(LOG)
        await runner.apply(_config(profile, first_port, tmp_path))
        started = runner.server
        assert started is not None
        unknown = await _ask(
            first_port,
            client,
            b"POST /0123abcd-0000 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ncode",
        )
        assert unknown.startswith(b"HTTP/1.1 404 Not Found\r\n")
        assert unknown.endswith(b"\r\n\r\nno such access grant (unknown or deleted token)\n")
        garbage = await _ask(first_port, client, b"hello\r\n\r\n")
        assert garbage.startswith(b"HTTP/1.1 400 ")
        no_length = await _ask(first_port, client, b"POST /x HTTP/1.1\r\n\r\n")
        assert no_length.startswith(b"HTTP/1.1 411 ")
        # The same settings on reload: the same server keeps running.
        await runner.apply(_config(profile, first_port, tmp_path))
        assert runner.server is started
        # A new port: the old one closes, the new one answers.
        await runner.apply(_config(profile, second_port, tmp_path))
        assert runner.server is not started
        moved = await _ask(second_port, client, b"GET / HTTP/1.1\r\n\r\n")
        assert moved.startswith(b"HTTP/1.1 405 ")
        try:
            await _ask(first_port, client, b"GET / HTTP/1.1\r\n\r\n")
            raise AssertionError("the old port still answers")
        except ConnectionRefusedError:
            pass
        # Removed from the config: stopped.
        await runner.apply(_config(profile, None, tmp_path))
        assert runner.server is None

    asyncio.run(scenario())
