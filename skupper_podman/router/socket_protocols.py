"""The asyncio protocols of the router's sockets: AMQP connections and TCP flows. Each
reports what happened to the core through the driver's doors and lets the driver run
the commands that follow."""

from __future__ import annotations

import asyncio
import os
from typing import Protocol, cast

from .core import RouterCore
from .engine import OUTPUT_CHUNK

TCP_WRITE_HIGH_WATER = 256 * 1024
AMQP_WRITE_HIGH_WATER = 1024 * 1024
FIRST_READ_SIZE = 64 * 1024


class DriverDoors(Protocol):
    """What a socket's protocol reaches of the driver."""

    core: RouterCore
    amqp: dict[int, AmqpProtocol]
    tcp: dict[int, TcpProtocol]

    def now(self) -> float: ...

    def run(self) -> None:
        """Execute the core's commands."""

    def flows_full(self) -> bool:
        """Whether the descriptors for flows are all in use."""


class AmqpProtocol(asyncio.Protocol):
    def __init__(self, driver: DriverDoors, conn_id: int | None, listener: str = "") -> None:
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
            if len(data) < OUTPUT_CHUNK:
                return  # less than a chunk: proton had no more (asking again costs a call)


class TcpProtocol(asyncio.Protocol):
    def __init__(
        self, driver: DriverDoors, flow_id: int | None, listener: str = "", *, tls: bool = False
    ) -> None:
        self.driver = driver
        self.flow_id = flow_id
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.closing = False
        # TLS has no half-close: the end of what we write is a close_notify, and the
        # connection's end that follows is the end of what we read, not a failure.
        self.tls = tls
        self.shut = False

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = self.transport = cast(asyncio.Transport, base)  # uvloop's: no subclass
        transport.set_write_buffer_limits(high=TCP_WRITE_HIGH_WATER)
        driver = self.driver
        if self.flow_id is None:
            if driver.flows_full():
                transport.abort()  # out of descriptors for flows: refused, never hung
                return
            self.flow_id = driver.core.tcp_accepted(self.listener, driver.now())
            if self.flow_id is None:
                transport.abort()
                return
            driver.tcp[self.flow_id] = self
            if not self.tls:
                self._read_first_bytes(transport)
            driver.run()
        else:
            driver.tcp[self.flow_id] = self
            driver.core.tcp_connected(self.flow_id, driver.now())
            driver.run()

    def _read_first_bytes(self, transport: asyncio.Transport) -> None:
        """Most clients speak first, at once: their first bytes are often here before the
        accept is. Read now, they go out in the flow's first transfer with its header,
        not in a transfer of their own a loop turn later (one frame less on every hop)."""
        try:
            data = os.read(transport.get_extra_info("socket").fileno(), FIRST_READ_SIZE)
        except BlockingIOError:  # nothing yet
            return
        except OSError:  # reset: read here, the transport would see only the end after it
            transport.abort()
            return
        if data:  # b"": the client's end, which the transport reads again
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        core = self.driver.core
        core.tcp_data(self.flow_id, data, self.driver.now())  # type: ignore[arg-type]
        self.driver.run()

    def eof_received(self) -> bool:
        self.driver.core.tcp_eof(self.flow_id, self.driver.now())  # type: ignore[arg-type]
        self.driver.run()
        return not self.tls  # plain TCP: keep the write side open (half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        flow_id = self.flow_id
        known = flow_id is not None and self.driver.tcp.pop(flow_id, None) is not None
        if known and not self.closing:
            core, now = self.driver.core, self.driver.now()
            if self.shut and exc is None:
                core.tcp_eof(flow_id, now)  # type: ignore[arg-type]
            else:
                core.tcp_closed(flow_id, str(exc or "closed"), now)  # type: ignore[arg-type]
            self.driver.run()

    def pause_writing(self) -> None:
        self.driver.core.tcp_write_paused(self.flow_id, True)  # type: ignore[arg-type]
        self.driver.run()

    def resume_writing(self) -> None:
        self.driver.core.tcp_write_paused(self.flow_id, False)  # type: ignore[arg-type]
        self.driver.run()
