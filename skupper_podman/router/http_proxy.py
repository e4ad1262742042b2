"""Links through an HTTP proxy: a CONNECT tunnel to the peer, then TLS and AMQP inside it.

The parsing and the request are plain functions (tests drive them without sockets);
`open_tunnel` is the one coroutine that talks to a proxy. The CLI's token redemption
uses the same `ProxyUrl` with http.client's own tunnel.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import urllib.parse
from dataclasses import dataclass

CONNECT_TIMEOUT_SECONDS = 15.0
MAX_REPLY_BYTES = 16 * 1024


class ProxyError(Exception):
    """The proxy could not be used or refused the tunnel; the message says why."""


@dataclass(frozen=True)
class ProxyUrl:
    host: str
    port: int
    username: str = ""
    password: str = ""

    @classmethod
    def parse(cls, url: str) -> ProxyUrl:
        """``http://[user:password@]host[:port]`` (port 80 when not given)."""
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http":
            raise ProxyError(f"proxy {url!r}: only http:// proxies are supported")
        try:
            port = parts.port or 80
        except ValueError:
            raise ProxyError(f"proxy {url!r}: the port is not a number from 1 to 65535") from None
        if not parts.hostname or parts.path not in ("", "/") or parts.query:
            raise ProxyError(f"proxy {url!r}: use http://[user:password@]host:port")
        return cls(
            parts.hostname,
            port,
            urllib.parse.unquote(parts.username or ""),
            urllib.parse.unquote(parts.password or ""),
        )

    @property
    def where(self) -> str:
        """host:port, never the credentials (for messages and logs)."""
        return f"{self.host}:{self.port}"

    def authorization(self) -> dict[str, str]:
        """The Proxy-Authorization header, when the URL carries credentials."""
        if not self.username:
            return {}
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Proxy-Authorization": f"Basic {token}"}


def connect_request(proxy: ProxyUrl, host: str, port: int) -> bytes:
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    lines += [f"{name}: {value}" for name, value in proxy.authorization().items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def reply_end(data: bytes) -> int | None:
    """Where the proxy's reply head ends in ``data`` (bytes after it are the peer's), or
    None if more is needed."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > MAX_REPLY_BYTES:
            raise ProxyError("the proxy's reply has no end")
        return None
    return end + 4


def check_reply(head: bytes, proxy: ProxyUrl) -> None:
    """Raise ProxyError unless the reply head says the tunnel is open (2xx)."""
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ProxyError(f"proxy {proxy.where} answered something else than HTTP")
    if not 200 <= int(fields[1]) < 300:
        raise ProxyError(f"proxy {proxy.where} refused the tunnel: {status_line.split(' ', 1)[1]}")


async def open_tunnel(
    proxy: ProxyUrl, host: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS
) -> socket.socket:
    """A connected socket with the tunnel to host:port open. Raises ProxyError or OSError.
    The link's client speaks first (TLS), so nothing of the peer's may precede it."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    if not infos:
        raise ProxyError(f"proxy {proxy.where} does not resolve")
    family, kind, protocol, _name, address = infos[0]
    sock = socket.socket(family, kind, protocol)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            try:
                await loop.sock_connect(sock, address)
            except OSError as error:
                raise ProxyError(
                    f"cannot reach proxy {proxy.where}: {error.strerror or error}"
                ) from None
            await loop.sock_sendall(sock, connect_request(proxy, host, port))
            data = b""
            while (end := reply_end(data)) is None:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    raise ProxyError(f"proxy {proxy.where} closed the connection")
                data += chunk
    except TimeoutError:
        sock.close()
        raise ProxyError(
            f"proxy {proxy.where} did not open the tunnel within {timeout:.0f} s"
        ) from None
    except BaseException:
        sock.close()
        raise
    try:
        check_reply(data[:end], proxy)
        if data[end:]:
            raise ProxyError(f"proxy {proxy.where} sent bytes before the tunnel was used")
    except ProxyError:
        sock.close()
        raise
    return sock
