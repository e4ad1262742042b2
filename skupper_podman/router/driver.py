"""The asyncio driver: moves bytes between sockets and the router core, and arms one timer.

It makes no decisions. Socket events become calls on the core; the commands the core
returns are executed in order with no awaits in between. Backpressure: a TCP socket
whose write buffer is full is reported to the core (which stops acknowledging its
window), and AMQP output is only pulled while the socket takes it. The sockets'
protocols are in ``socket_protocols.py``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from . import backend_dial
from . import commands as cmd
from .core import RouterCore
from .http_proxy import ProxyError, ProxyUrl, open_tunnel
from .service_tls import HANDSHAKE_TIMEOUT, ServiceTlsContexts, TlsError
from .service_tls import describe as describe_tls
from .socket_protocols import AmqpProtocol, TcpProtocol
from .sockets import OUT_OF_FILES, describe_os_error, flow_socket_budget, listening_socket
from .tls_accept import TlsServer

log = logging.getLogger("skupper-router")
WRITE_AT_ONCE = 16 * 1024  # AMQP output this large is written now, not at the turn's end

_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class RouterDriver:
    def __init__(self, core: RouterCore, loop: asyncio.AbstractEventLoop) -> None:
        self.core = core
        self.loop = loop
        self.amqp: dict[int, AmqpProtocol] = {}
        self.tcp: dict[int, TcpProtocol] = {}
        self.servers: dict[tuple[str, str], asyncio.AbstractServer | TlsServer] = {}
        self.dialling: dict[tuple[str, int | str], asyncio.Task[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._turn_end_scheduled = False  # _end_turn: writes, then the timer, once a turn
        self._running = False
        # connections with a little AMQP output, written once at the end of the loop's
        # turn: the frames of every socket event of a turn leave in one write per
        # connection (measured: 50 clients' requests/responses +10%, redis +20%); a
        # connection with much to write (bulk data) writes at once, or its window stalls
        self._to_transmit: dict[AmqpProtocol, None] = {}
        self.listen_errors: dict[tuple[str, str], str] = {}
        self.tls_contexts = ServiceTlsContexts()
        self.flow_budget = flow_socket_budget()

    def now(self) -> float:
        # Not loop.time(): uvloop's is in milliseconds, read once per loop turn, too coarse
        # for a reply's latency (a loopback round trip takes well under one). The same
        # monotonic clock, so the timers (loop.call_at) agree with it.
        return time.monotonic()

    def run(self) -> None:
        """Execute the core's commands; the turn ends with ``_end_turn``."""
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
        if not self._turn_end_scheduled:
            self._turn_end_scheduled = True
            self.loop.call_soon(self._end_turn)

    def _end_turn(self) -> None:
        """Once at the end of the loop's turn, not after each of its socket events (50
        clients' requests are 50 events a turn): what the turn's events left to write goes
        out, one write per connection, then the timer is armed for the next deadline."""
        while self._to_transmit:
            protocols, self._to_transmit = self._to_transmit, {}
            for protocol in protocols:
                protocol.transmit()
            self.run()  # what writing ended (a connection proton closed) has commands too
        self._turn_end_scheduled = False
        self._arm_timer()

    def _execute(self, command: cmd.Command) -> None:
        handler = _EXECUTORS[type(command)]
        handler(self, command)

    # --- executors ---------------------------------------------------------------------------

    def _transmit(self, command: cmd.TransmitAmqp) -> None:
        protocol = self.amqp.get(command.conn_id)
        if protocol is None:
            return
        if command.size >= WRITE_AT_ONCE:
            self._to_transmit.pop(protocol, None)
            protocol.transmit()
            return
        self._to_transmit[protocol] = None  # written at the end of the turn (run() sees to it)

    def _send_tcp(self, command: cmd.SendTcp) -> None:
        protocol = self.tcp.get(command.flow_id)
        if protocol is not None and protocol.transport is not None:
            protocol.transport.write(command.data)  # may call pause_writing() at once
            self.core.tcp_sent(command.flow_id, len(command.data))

    def _shutdown_tcp(self, command: cmd.ShutdownTcp) -> None:
        protocol = self.tcp.get(command.flow_id)
        if protocol is not None and protocol.transport is not None:
            transport = protocol.transport
            if transport.is_closing():
                return
            if transport.can_write_eof():
                transport.write_eof()
            elif protocol.tls:
                protocol.shut = True
                transport.close()

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

    def flows_full(self) -> bool:
        return len(self.tcp) + len(self.dialling) >= self.flow_budget

    def _open_tcp(self, command: cmd.OpenTcp) -> None:
        if self.flows_full():
            self.core.tcp_connect_failed(command.flow_id, OUT_OF_FILES, self.now())
            return
        key = ("tcp", command.flow_id)
        self.dialling[key] = self.loop.create_task(self._dial_tcp(command))

    async def _dial_tcp(self, command: cmd.OpenTcp) -> None:
        tls = command.tls
        try:
            await backend_dial.connect(partial(self._connect_tcp, command))
        except (OSError, TlsError) as e:
            if isinstance(e, OSError) and tls is None:
                reason = describe_os_error(e)
            else:
                reason = describe_tls(e)
            self.core.tcp_connect_failed(command.flow_id, reason, self.now())
            self.run()
        finally:
            self.dialling.pop(("tcp", command.flow_id), None)

    def _probe_tcp(self, command: cmd.ProbeTcp) -> None:
        key = ("probe", command.connector)
        if key not in self.dialling:
            self.dialling[key] = self.loop.create_task(self._probe(command))

    async def _probe(self, command: cmd.ProbeTcp) -> None:
        try:
            error = await backend_dial.probe(self.loop, command.host, command.port)
        finally:
            self.dialling.pop(("probe", command.connector), None)
        self.core.backend_probed(command.connector, error, self.now())
        self.run()

    async def _connect_tcp(self, command: cmd.OpenTcp) -> None:
        tls = command.tls
        if tls is None:
            await self.loop.create_connection(
                lambda: TcpProtocol(self, command.flow_id), command.host, command.port
            )
            return
        await self.loop.create_connection(
            lambda: TcpProtocol(self, command.flow_id, tls=True),
            command.host,
            command.port,
            ssl=self.tls_contexts.client(tls),
            server_hostname=command.host,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
        )

    def _connect_amqp(self, command: cmd.ConnectAmqp) -> None:
        key = ("amqp", command.conn_id)
        self.dialling[key] = self.loop.create_task(self._dial_amqp(command))

    async def _dial_amqp(self, command: cmd.ConnectAmqp) -> None:
        def protocol() -> AmqpProtocol:
            return AmqpProtocol(self, command.conn_id)

        try:
            if command.proxy:
                proxy = ProxyUrl.parse(command.proxy)
                sock = await open_tunnel(proxy, command.host, command.port)
                await self.loop.create_connection(protocol, sock=sock)
            else:
                await self.loop.create_connection(protocol, command.host, command.port)
        except ProxyError as e:
            self.core.amqp_closed(command.conn_id, str(e), self.now())
            self.run()
        except OSError as e:
            self.core.amqp_closed(command.conn_id, describe_os_error(e), self.now())
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
        tls = command.tls
        if command.kind == "amqp":
            factory = lambda: AmqpProtocol(self, None, command.name)  # noqa: E731
        elif tls is not None:
            factory = lambda: TcpProtocol(self, None, command.name, tls=True)  # noqa: E731
        else:
            factory = lambda: TcpProtocol(self, None, command.name)  # noqa: E731
        try:
            sock = listening_socket(command.host, command.port)
        except OSError as e:
            self.listen_errors[key] = describe_os_error(e)
            log.error(
                "cannot listen on %s:%s for %s %s: %s",
                command.host or "*",
                command.port,
                command.kind,
                command.name,
                describe_os_error(e),
            )
            return
        self.listen_errors.pop(key, None)
        if tls is None:
            self.loop.create_task(self._serve(key, factory, sock))
            return
        server = TlsServer(
            self.loop,
            sock,
            lambda: self.tls_contexts.server(tls),
            factory,
            partial(self._tls_refused, command.name),
        )
        self._replace_server(key, server)

    async def _serve(
        self, key: tuple[str, str], factory: Callable[[], asyncio.Protocol], sock: socket.socket
    ) -> None:
        self._replace_server(key, await self.loop.create_server(factory, sock=sock))

    def _replace_server(
        self, key: tuple[str, str], server: asyncio.AbstractServer | TlsServer
    ) -> None:
        old = self.servers.pop(key, None)
        if old is not None:
            old.close()
        self.servers[key] = server

    def _tls_refused(self, listener: str, error: BaseException) -> None:
        self.core.tcp_handshake_failed(listener, describe_tls(error), self.now())
        self.run()

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
        self._timer = self.loop.call_at(deadline, self._fire)

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


_EXECUTORS: dict[type, Callable[[RouterDriver, Any], None]] = {
    cmd.Listen: RouterDriver._listen,
    cmd.StopListening: RouterDriver._stop_listening,
    cmd.ConnectAmqp: RouterDriver._connect_amqp,
    cmd.TransmitAmqp: RouterDriver._transmit,
    cmd.CloseAmqp: RouterDriver._close_amqp,
    cmd.OpenTcp: RouterDriver._open_tcp,
    cmd.ProbeTcp: RouterDriver._probe_tcp,
    cmd.SendTcp: RouterDriver._send_tcp,
    cmd.ShutdownTcp: RouterDriver._shutdown_tcp,
    cmd.CloseTcp: RouterDriver._close_tcp,
    cmd.PauseTcp: RouterDriver._pause_tcp,
    cmd.ResumeTcp: RouterDriver._resume_tcp,
    cmd.Log: RouterDriver._log,
}
