"""One AMQP connection's protocol engine: python-qpid-proton's Transport without any I/O.

Bytes from the socket go in with ``push``; bytes for the socket come out of ``take_output``;
protocol events come out of ``events``. TLS and SASL EXTERNAL run inside the transport
(proton's own TLS layer), so the peer identity needed for EXTERNAL is known to it and the
driver only ever moves opaque bytes. Time only enters through ``tick(now)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from proton import SSL, Collector, Connection, Event, SSLDomain, Transport

from .config import SslProfile


@dataclass(frozen=True, slots=True)
class TlsSettings:
    profile: SslProfile
    verify_hostname: bool = True
    require_peer_certificate: bool = True


class AmqpEngine:
    """The proton engine of one network connection (client or server side)."""

    def __init__(
        self,
        *,
        server: bool,
        tls: TlsSettings | None,
        sasl_mechanisms: str,
        peer_hostname: str = "",
        max_frame_size: int = 65536,
        idle_timeout: float = 16.0,
    ) -> None:
        self.server = server
        self.transport = Transport(Transport.SERVER if server else Transport.CLIENT)
        self.transport.max_frame_size = max_frame_size
        self.transport.idle_timeout = idle_timeout
        self.transport.channel_max = 32767
        self.ssl: SSL | None = None
        if tls is not None:
            self.ssl = SSL(self.transport, _ssl_domain(tls, server))
            if not server and peer_hostname:
                self.ssl.peer_hostname = peer_hostname
        if sasl_mechanisms:
            sasl = self.transport.sasl()
            sasl.allowed_mechs(sasl_mechanisms)
            if server:
                self.transport.require_auth(sasl_mechanisms != "ANONYMOUS")
        self.connection = Connection()
        self.collector = Collector()
        self.connection.collect(self.collector)
        self.transport.bind(self.connection)
        self._input_closed = False

    def push(self, data: bytes | memoryview) -> None:
        """Feed socket bytes; process events in between when the input buffer fills."""
        view = memoryview(data)
        while view:
            capacity = self.transport.capacity()
            if capacity <= 0:
                # The transport takes no more input (it closed): drop the rest.
                return
            chunk = view[:capacity]
            self.transport.push(bytes(chunk))
            view = view[len(chunk):]

    def close_input(self) -> None:
        if not self._input_closed:
            self._input_closed = True
            self.transport.close_tail()

    def take_output(self, limit: int = 4 * 1024 * 1024) -> bytes:
        """Bytes to write to the socket now (empty when there are none)."""
        # proton produces frames into a bounded buffer: drain it until it has no more.
        transport = self.transport
        chunks: list[bytes] = []
        total = 0
        while total < limit:
            pending = transport.pending()
            if pending <= 0:
                break
            chunk = transport.peek(pending)
            transport.pop(pending)
            chunks.append(chunk)
            total += pending
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    @property
    def output_closed(self) -> bool:
        return self.transport.pending() < 0

    def events(self) -> Iterator[Event]:
        collector = self.collector
        while True:
            event = collector.peek()
            if event is None:
                return
            yield event
            collector.pop()

    def tick(self, now: float) -> float:
        """Advance proton's idle-timeout clock; returns the next deadline (0 = none)."""
        return float(self.transport.tick(now))

    @property
    def peer_subject(self) -> str:
        return self.ssl.remote_subject if self.ssl is not None else ""

    @property
    def error(self) -> str:
        condition = self.transport.condition or self.connection.remote_condition
        if condition is None:
            return ""
        return f"{condition.name}: {condition.description}" if condition.description else str(
            condition.name
        )


def _ssl_domain(tls: TlsSettings, server: bool) -> SSLDomain:
    profile = tls.profile
    domain = SSLDomain(SSLDomain.MODE_SERVER if server else SSLDomain.MODE_CLIENT)
    if profile.certFile:
        domain.set_credentials(profile.certFile, profile.privateKeyFile, profile.password or None)
    if profile.caCertFile:
        domain.set_trusted_ca_db(profile.caCertFile)
        if server:
            mode = (
                SSLDomain.VERIFY_PEER if tls.require_peer_certificate else SSLDomain.ANONYMOUS_PEER
            )
        else:
            mode = SSLDomain.VERIFY_PEER_NAME if tls.verify_hostname else SSLDomain.VERIFY_PEER
        domain.set_peer_authentication(mode, profile.caCertFile)
    return domain
