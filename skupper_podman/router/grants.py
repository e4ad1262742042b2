"""The grant server: a small HTTPS endpoint in the router process that redeems access
tokens for link credentials (the `grantServer` config entity).

Protocol (Skupper's): `POST /<grant uid>` with the token's code as the body; optional
headers `name` (the Link name the redeemer wants) and `subject` (the redeeming site, the
client certificate's common name). 200 answers with a Link and its Secret as YAML;
refusals are a status (404 unknown grant, 403 wrong code / expired / used up) and one line
of text. Everything but the bytes on the socket is in grant_records.py.

One request per connection, bounded in size and time, so a slow or hostile client cannot
hold the router's loop or memory. A redemption (file I/O, a key pair, a signature) runs on
one worker thread off the router's loop: one at a time, so two requests can never take
the same last use of a grant.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .config import GrantServerSettings, RouterConfig, SslProfile
from .grant_records import GrantRefused, SigningCa, redeem
from .service_tls import Signature, profile_signature

MAX_HEAD_BYTES = 8192
MAX_BODY_BYTES = 4096
REQUEST_TIMEOUT_SECONDS = 10.0  # for the TLS handshake, then for the request
MAX_CONNECTIONS = 64  # at once; more are closed at once (a flood costs little memory)
_CONTENT_LENGTH = re.compile(r"[0-9]{1,9}")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    500: "Internal Server Error",
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"

    def encode(self) -> bytes:
        payload = self.body.encode()
        head = (
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Error')}\r\n"
            f"Content-Type: {self.content_type}\r\n"
            f"Content-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode("ascii") + payload


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def server_context(profile: SslProfile) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(profile.certFile, profile.privateKeyFile, profile.password or None)
    return context


async def start_grant_server(
    settings: GrantServerSettings, profile: SslProfile, log: logging.Logger
) -> asyncio.AbstractServer:
    """Listen on settings.host:settings.port (all interfaces if host is empty)."""
    context = server_context(profile)
    in_flight = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight
        if in_flight >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        in_flight += 1
        try:
            await _serve_one(reader, writer, settings, log)
        finally:
            in_flight -= 1

    server = await asyncio.start_server(
        handle,
        settings.host or None,
        settings.port,
        ssl=context,
        limit=MAX_HEAD_BYTES,
        ssl_handshake_timeout=REQUEST_TIMEOUT_SECONDS,
    )
    log.info("grant server listening on %s:%s", settings.host or "*", settings.port)
    return server


# One worker for every grant server of the process: redemptions in order, off the loop.
_REDEEMER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grant-redemption")


async def _serve_one(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    settings: GrantServerSettings,
    log: logging.Logger,
) -> None:
    peer = writer.get_extra_info("peername") or ("?", 0)
    try:
        try:
            request = await asyncio.wait_for(_read_request(reader), REQUEST_TIMEOUT_SECONDS)
        except TimeoutError:
            answer = Answer(408, "request not received in time\n")
        except GrantRefused as refused:
            answer = Answer(refused.status, refused.reason + "\n")
        else:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(
                _REDEEMER, answer_request, request, settings, log, str(peer[0])
            )
        writer.write(answer.encode())
        await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT_SECONDS)
    except (OSError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError) as error:
        log.debug("grant server: connection from %s ended: %s", peer[0], error)
    except Exception as error:
        log.warning("grant server: a request from %s failed: %r", peer[0], error)
        writer.transport.abort()
    finally:
        writer.close()  # the answer carries its length: no need to wait for the TLS close


async def _read_request(reader: asyncio.StreamReader) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise GrantRefused(413, "request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise GrantRefused(400, "not an HTTP/1.1 request")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    body = b""
    if parts[0] == "POST":
        if not _CONTENT_LENGTH.fullmatch(headers.get("content-length", "")):
            raise GrantRefused(411, "a Content-Length (decimal digits) is required")
        length = int(headers["content-length"])
        if length > MAX_BODY_BYTES:
            raise GrantRefused(413, "request body too large")
        body = await reader.readexactly(length)
    return Request(parts[0], parts[1], headers, body)


def answer_request(
    request: Request, settings: GrantServerSettings, log: logging.Logger, peer: str
) -> Answer:
    """The answer to one parsed request (no I/O but the grant file and the CA files)."""
    if request.method != "POST":
        return Answer(405, "only POST is supported\n")
    uid = request.path.split("?", 1)[0].strip("/")

    def load_ca() -> SigningCa:
        try:
            return SigningCa.load(settings.caCertFile, settings.caKeyFile, settings.trustFile)
        except (OSError, ValueError) as error:
            log.error("grant server: cannot load the signing CA: %s", error)
            raise GrantRefused(500, "the site cannot sign certificates now") from None

    try:
        redemption = redeem(
            Path(settings.grantsDir),
            uid,
            request.body.decode("utf-8", "replace").strip(),
            requested_name=request.headers.get("name", ""),
            subject=request.headers.get("subject", ""),
            load_ca=load_ca,
            now=datetime.datetime.now(datetime.UTC),
        )
    except GrantRefused as refused:
        log.warning("grant %s: redemption from %s refused: %s", uid[:64], peer, refused.reason)
        return Answer(refused.status, refused.reason + "\n")
    except OSError as error:
        log.error("grant %s: cannot record the redemption: %s", uid, error)
        return Answer(500, "the site cannot record the redemption now\n")
    record = redemption.record
    log.info(
        "grant %s: redeemed by %s (%s) as link %s, %d of %d used",
        record.name,
        redemption.identity.name,
        peer,
        redemption.identity.link,
        record.redemptions,
        record.redemptions_allowed,
    )
    return Answer(200, redemption.link_yaml, "application/yaml")


class GrantServerRunner:
    """Keeps the grant server in line with the config: started, restarted when its
    settings or certificate profile change on reload, stopped when removed."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.server: asyncio.AbstractServer | None = None
        # The profile's files count too: a renewed server certificate (site rotate-certs)
        # must be served, and only a new context reads it.
        self._applied: tuple[GrantServerSettings | None, SslProfile | None, Signature] = (
            None,
            None,
            (),
        )
        self._lock = asyncio.Lock()

    async def apply(self, config: RouterConfig) -> None:
        settings = config.grant_server
        profile = config.ssl_profiles.get(settings.sslProfile) if settings else None
        files = profile_signature(profile) if profile is not None else ()
        async with self._lock:
            applied = (settings, profile, files)
            if applied == self._applied and (settings is None or self.server):
                return
            self.close()
            self._applied = applied
            if settings is None:
                return
            if profile is None:
                self.log.error("grant server not started: it needs an sslProfile")
                return
            try:
                self.server = await start_grant_server(settings, profile, self.log)
            except (OSError, ssl.SSLError) as error:
                self.log.error(
                    "cannot start the grant server on %s:%s: %s",
                    settings.host or "*",
                    settings.port,
                    error.strerror or error,
                )

    def close(self) -> None:
        if self.server is not None:
            self.server.close()  # the listening sockets close now; the port is free again
            self.server = None
