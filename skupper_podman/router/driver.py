"""The asyncio driver: moves bytes between sockets and the router core, and arms one timer.

It makes no decisions. Socket events become calls on the core; the commands the core
returns are executed in order with no awaits in between. Backpressure: a TCP socket
whose write buffer is full is reported to the core (which stops acknowledging its
window), and AMQP output is only pulled while the socket takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any, cast

from . import commands as cmd
from . import metrics
from .core import RouterCore

log = logging.getLogger("skupper-router")

TCP_WRITE_HIGH_WATER = 256 * 1024
AMQP_WRITE_HIGH_WATER = 1024 * 1024
_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class AmqpProtocol(asyncio.Protocol):
    def __init__(self, driver: RouterDriver, conn_id: int | None, listener: str = "") -> None:
        self.driver = driver
        self.conn_id = conn_id
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.paused = False

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = self.transport = cast(asyncio.Transport, base)  # uvloop's: no subclass
        transport.set_write_buffer_limits(high=AMQP_WRITE_HIGH_WATER)
        driver = self.driver
        if self.conn_id is None:
            peer = transport.get_extra_info("peername") or ("", 0)
            address = f"{peer[0]}:{peer[1]}" if peer[0] else ""
            self.conn_id = driver.core.amqp_accepted(self.listener, address, driver.now())
            if self.conn_id is None:
                transport.abort()
                return
        driver.amqp[self.conn_id] = self
        driver.core.amqp_connected(self.conn_id, driver.now())
        driver.run()
        self.transmit()
        driver.run()

    def data_received(self, data: bytes) -> None:
        if self.conn_id is not None:
            self.driver.core.amqp_data(self.conn_id, data, self.driver.now())
            self.driver.run()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn_id is not None and self.driver.amqp.pop(self.conn_id, None) is not None:
            error = str(exc) if exc else "connection closed by peer"
            self.driver.core.amqp_closed(self.conn_id, error, self.driver.now())
            self.driver.run()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.transmit()
        self.driver.run()

    def transmit(self) -> None:
        if self.paused or self.transport is None or self.conn_id is None:
            return
        core, transport, conn_id = self.driver.core, self.transport, self.conn_id
        while not self.paused:
            data = core.amqp_output(conn_id)
            if not data:
                return
            transport.write(data)  # may call pause_writing() at once


class TcpProtocol(asyncio.Protocol):
    def __init__(self, driver: RouterDriver, flow_id: int | None, listener: str = "") -> None:
        self.driver = driver
        self.flow_id = flow_id
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.closing = False

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = self.transport = cast(asyncio.Transport, base)  # uvloop's: no subclass
        transport.set_write_buffer_limits(high=TCP_WRITE_HIGH_WATER)
        driver = self.driver
        if self.flow_id is None:
            self.flow_id = driver.core.tcp_accepted(self.listener, driver.now())
            if self.flow_id is None:
                transport.abort()
                return
            driver.tcp[self.flow_id] = self
            driver.run()
        else:
            driver.tcp[self.flow_id] = self
            driver.core.tcp_connected(self.flow_id, driver.now())
            driver.run()

    def data_received(self, data: bytes) -> None:
        core = self.driver.core
        core.tcp_data(self.flow_id, data)  # type: ignore[arg-type]
        self.driver.run()

    def eof_received(self) -> bool:
        self.driver.core.tcp_eof(self.flow_id, self.driver.now())  # type: ignore[arg-type]
        self.driver.run()
        return True  # keep the write side open: half-close

    def connection_lost(self, exc: Exception | None) -> None:
        flow_id = self.flow_id
        known = flow_id is not None and self.driver.tcp.pop(flow_id, None) is not None
        if known and not self.closing:
            self.driver.core.tcp_closed(flow_id, str(exc or "closed"), self.driver.now())  # type: ignore[arg-type]
            self.driver.run()

    def pause_writing(self) -> None:
        self.driver.core.tcp_write_paused(self.flow_id, True)  # type: ignore[arg-type]
        self.driver.run()

    def resume_writing(self) -> None:
        self.driver.core.tcp_write_paused(self.flow_id, False)  # type: ignore[arg-type]
        self.driver.run()


class RouterDriver:
    def __init__(self, core: RouterCore, loop: asyncio.AbstractEventLoop) -> None:
        self.core = core
        self.loop = loop
        self.amqp: dict[int, AmqpProtocol] = {}
        self.tcp: dict[int, TcpProtocol] = {}
        self.servers: dict[tuple[str, str], asyncio.AbstractServer] = {}
        self.dialling: dict[tuple[str, int], asyncio.Task[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._running = False
        self.listen_errors: dict[tuple[str, str], str] = {}

    def now(self) -> float:
        return self.loop.time()

    def run(self) -> None:
        """Execute the core's commands, then re-arm the timer."""
        if self._running:
            return  # a protocol callback fired while executing: the outer loop picks it up
        self._running = True
        try:
            while True:
                commands = self.core.take_commands()
                if not commands:
                    break
                for command in commands:
                    self._execute(command)
        finally:
            self._running = False
        self._arm_timer()

    def _execute(self, command: cmd.Command) -> None:
        handler = _EXECUTORS[type(command)]
        handler(self, command)

    # --- executors ---------------------------------------------------------------------------

    def _transmit(self, command: cmd.TransmitAmqp) -> None:
        protocol = self.amqp.get(command.conn_id)
        if protocol is not None:
            protocol.transmit()

    def _send_tcp(self, command: cmd.SendTcp) -> None:
        protocol = self.tcp.get(command.flow_id)
        if protocol is not None and protocol.transport is not None:
            protocol.transport.write(command.data)

    def _shutdown_tcp(self, command: cmd.ShutdownTcp) -> None:
        protocol = self.tcp.get(command.flow_id)
        if protocol is not None and protocol.transport is not None:
            transport = protocol.transport
            if transport.can_write_eof() and not transport.is_closing():
                transport.write_eof()

    def _close_tcp(self, command: cmd.CloseTcp) -> None:
        task = self.dialling.pop(("tcp", command.flow_id), None)
        if task is not None:
            task.cancel()
        protocol = self.tcp.pop(command.flow_id, None)
        if protocol is not None and protocol.transport is not None:
            protocol.closing = True
            if command.abort:
                protocol.transport.abort()
            else:
                protocol.transport.close()

    def _pause_tcp(self, command: cmd.PauseTcp) -> None:
        protocol = self.tcp.get(command.flow_id)
        if protocol is not None and protocol.transport is not None:
            protocol.transport.pause_reading()

    def _resume_tcp(self, command: cmd.ResumeTcp) -> None:
        protocol = self.tcp.get(command.flow_id)
        if protocol is not None and protocol.transport is not None:
            protocol.transport.resume_reading()

    def _open_tcp(self, command: cmd.OpenTcp) -> None:
        key = ("tcp", command.flow_id)
        self.dialling[key] = self.loop.create_task(self._dial_tcp(command))

    async def _dial_tcp(self, command: cmd.OpenTcp) -> None:
        try:
            await self.loop.create_connection(
                lambda: TcpProtocol(self, command.flow_id), command.host, command.port
            )
        except OSError as e:
            self.core.tcp_connect_failed(command.flow_id, _describe(e), self.now())
            self.run()
        finally:
            self.dialling.pop(("tcp", command.flow_id), None)

    def _connect_amqp(self, command: cmd.ConnectAmqp) -> None:
        key = ("amqp", command.conn_id)
        self.dialling[key] = self.loop.create_task(self._dial_amqp(command))

    async def _dial_amqp(self, command: cmd.ConnectAmqp) -> None:
        try:
            await self.loop.create_connection(
                lambda: AmqpProtocol(self, command.conn_id), command.host, command.port
            )
        except OSError as e:
            self.core.amqp_closed(command.conn_id, _describe(e), self.now())
            self.run()
        finally:
            self.dialling.pop(("amqp", command.conn_id), None)

    def _close_amqp(self, command: cmd.CloseAmqp) -> None:
        task = self.dialling.pop(("amqp", command.conn_id), None)
        if task is not None:
            task.cancel()
        protocol = self.amqp.pop(command.conn_id, None)
        if protocol is not None and protocol.transport is not None:
            if command.final:
                protocol.transport.write(command.final)
            protocol.transport.close()

    def _listen(self, command: cmd.Listen) -> None:
        key = (command.kind, command.name)
        factory: Callable[[], asyncio.Protocol]
        if command.kind == "amqp":
            factory = lambda: AmqpProtocol(self, None, command.name)  # noqa: E731
        else:
            factory = lambda: TcpProtocol(self, None, command.name)  # noqa: E731
        try:
            sock = _listening_socket(command.host, command.port)
        except OSError as e:
            self.listen_errors[key] = _describe(e)
            log.error(
                "cannot listen on %s:%s for %s %s: %s",
                command.host or "*",
                command.port,
                command.kind,
                command.name,
                _describe(e),
            )
            return
        self.listen_errors.pop(key, None)
        self.loop.create_task(self._serve(key, factory, sock))

    async def _serve(
        self, key: tuple[str, str], factory: Callable[[], asyncio.Protocol], sock: socket.socket
    ) -> None:
        server = await self.loop.create_server(factory, sock=sock)
        old = self.servers.pop(key, None)
        if old is not None:
            old.close()
        self.servers[key] = server

    def _stop_listening(self, command: cmd.StopListening) -> None:
        server = self.servers.pop((command.kind, command.name), None)
        if server is not None:
            server.close()

    def _log(self, command: cmd.Log) -> None:
        log.log(_LOG_LEVELS[command.level], "%s: %s", command.module, command.text)

    # --- the one timer -------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        deadline = self.core.get_timer()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._fire) if deadline is not None else None

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self.core.handle_timer(self.now())
        self.run()

    async def close(self) -> None:
        for server in self.servers.values():
            server.close()
        for protocol in list(self.amqp.values()):
            if protocol.transport is not None:
                protocol.transport.close()
        for tcp in list(self.tcp.values()):
            if tcp.transport is not None:
                tcp.transport.abort()
        for task in list(self.dialling.values()):
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()


async def start_metrics_server(
    core: RouterCore, *, host: str = "", port: int = 0, path: str = ""
) -> asyncio.AbstractServer:
    """Serve ``GET /metrics`` (Prometheus text) to loopback clients, or on the unix socket
    ``path`` (replacing a stale one a killed router left)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if path.split(b"?")[0] in (b"/metrics", b"/"):
                body, status = metrics.render(core).encode(), b"200 OK"
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


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bind synchronously, so that a port in use is reported at once, not in a task."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and not host:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(512)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _describe(error: OSError) -> str:
    return error.strerror or str(error)


_EXECUTORS: dict[type, Callable[[RouterDriver, Any], None]] = {
    cmd.Listen: RouterDriver._listen,
    cmd.StopListening: RouterDriver._stop_listening,
    cmd.ConnectAmqp: RouterDriver._connect_amqp,
    cmd.TransmitAmqp: RouterDriver._transmit,
    cmd.CloseAmqp: RouterDriver._close_amqp,
    cmd.OpenTcp: RouterDriver._open_tcp,
    cmd.SendTcp: RouterDriver._send_tcp,
    cmd.ShutdownTcp: RouterDriver._shutdown_tcp,
    cmd.CloseTcp: RouterDriver._close_tcp,
    cmd.PauseTcp: RouterDriver._pause_tcp,
    cmd.ResumeTcp: RouterDriver._resume_tcp,
    cmd.Log: RouterDriver._log,
}
