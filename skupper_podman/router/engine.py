"""One AMQP connection's protocol engine: python-qpid-proton's Transport without any I/O.

Bytes from the socket go in with ``push``; bytes for the socket come out of ``take_output``;
protocol events come out of ``events``. TLS and SASL EXTERNAL run inside the transport
(proton's own TLS layer), so the peer identity needed for EXTERNAL is known to it and the
driver only ever moves opaque bytes. Time only enters through ``tick(now)``.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from cproton import ffi as _ffi
from cproton import lib as _lib
from proton import SSL, Collector, Connection, Link, Session, SSLDomain, Transport

from .config import SslProfile
from .proton_deliveries import DeliveryState
from .service_tls import Signature, profile_signature

# The most output handed to the socket in one write.
OUTPUT_CHUNK = 1024 * 1024
# One for the whole router (it is one thread): what a take_output gathers is copied out
# before the next. Mapped, not a bytearray, whose zeroing touches every page: only what
# bulk transfers use becomes resident (one output buffer per connection once kept 1 MiB
# resident for each).
_output_buffer = mmap.mmap(-1, OUTPUT_CHUNK)


class ProtonEvent:
    """One proton event; its objects are wrapped only when asked for."""

    __slots__ = ("_impl", "type")

    def __init__(self, kind: int, impl: object) -> None:
        self.type = kind
        self._impl = impl

    @property
    def delivery_state(self) -> DeliveryState:
        return DeliveryState(_lib.pn_event_delivery(self._impl))

    @property
    def link(self) -> Link:
        return cast(Link, Link.wrap(_lib.pn_event_link(self._impl)))  # type: ignore[no-untyped-call]

    def link_of(self, wrappers: dict[object, Link]) -> Link:
        """The event's link, wrapped once for its life (``wrappers``: its connection's, by
        proton's pointer; a wrapper holds a reference, so no other link takes that address
        while it is kept). A new delivery and a stream's end each needed a wrapper."""
        impl = _lib.pn_event_link(self._impl)
        link = wrappers.get(impl)
        if link is None:
            link = wrappers[impl] = cast(Link, Link.wrap(impl))  # type: ignore[no-untyped-call]
        return link

    @property
    def session(self) -> Session:
        return cast(Session, Session.wrap(_lib.pn_event_session(self._impl)))  # type: ignore[no-untyped-call]

    @property
    def connection(self) -> Connection:
        return cast(Connection, Connection.wrap(_lib.pn_event_connection(self._impl)))  # type: ignore[no-untyped-call]


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
        ssl_domain: SSLDomain | None,
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
        if ssl_domain is not None:
            self.ssl = SSL(self.transport, ssl_domain)
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
        self.output_closed = False  # set by take_output
        self._impl = self.transport._impl
        self._collector_impl = self.collector._impl

    def push(self, data: bytes | memoryview) -> None:
        """Feed socket bytes; process events in between when the input buffer fills."""
        impl = self._impl
        view = memoryview(data)
        while view:
            capacity = _lib.pn_transport_capacity(impl)
            if capacity <= 0:
                return  # the transport takes no more input (it closed): drop the rest
            chunk = view[:capacity]
            _lib.pn_transport_push(impl, _ffi.from_buffer(chunk), len(chunk))
            view = view[len(chunk) :]

    def close_input(self) -> None:
        if not self._input_closed:
            self._input_closed = True
            self.transport.close_tail()

    def take_output(self) -> bytes:
        """Bytes to write to the socket now (empty when there are none); afterwards
        ``output_closed`` says whether proton has written its last frame."""
        # proton hands out at most 64 KiB of TLS output per peek: gather them into one
        # reused buffer with the C calls directly (the binding's peek allocates and copies
        # twice per call), then copy once into the bytes the socket gets.
        impl = self._impl
        out = _output_buffer
        total = 0
        limit = len(out)
        while total < limit:
            pending = _lib.pn_transport_pending(impl)
            if pending <= 0:
                break
            size = min(pending, limit - total)
            got = _lib.pn_transport_peek(impl, _ffi.from_buffer(out) + total, size)
            if got <= 0:
                break
            _lib.pn_transport_pop(impl, got)
            total += got
        else:
            pending = _lib.pn_transport_pending(impl)  # the buffer is full: more, or the end?
        # what proton's last answer said (asking again encodes nothing new, at a cost)
        self.output_closed = pending < 0
        return bytes(memoryview(out)[:total]) if total else b""

    def pending(self) -> int:
        """How many bytes are ready to write now (proton encodes them to tell); negative
        once proton has written its last frame."""
        return int(_lib.pn_transport_pending(self._impl))

    def events(self, wanted: frozenset[int]) -> Iterator[ProtonEvent]:
        """The collector's events of the ``wanted`` types (``PN_*`` numbers), in order.

        The binding's ``Collector.peek`` wraps every event together with its delivery,
        link, session, connection and transport: most events are of no interest, so they
        are filtered on their type number before anything is wrapped.
        """
        collector = self._collector_impl
        while True:
            impl = _lib.pn_collector_peek(collector)
            if impl == _ffi.NULL:
                return
            kind = _lib.pn_event_type(impl)
            if kind in wanted:
                yield ProtonEvent(kind, impl)
            _lib.pn_collector_pop(collector)

    def tick(self, now: float) -> float:
        """Advance proton's idle-timeout clock; returns the next deadline (0 = none)."""
        return float(self.transport.tick(now))

    @property
    def peer_fingerprint(self) -> str:
        """SHA-256 of the peer's certificate, lowercase hex ("" without TLS)."""
        if self.ssl is None:
            return ""
        return str(self.ssl.get_cert_fingerprint_sha256() or "")

    @property
    def peer_subject(self) -> str:
        return self.ssl.remote_subject if self.ssl is not None else ""

    @property
    def error(self) -> str:
        condition = self.transport.condition or self.connection.remote_condition
        if condition is None:
            return ""
        return (
            f"{condition.name}: {condition.description}"
            if condition.description
            else str(condition.name)
        )


class TlsDomains:
    """One proton SSLDomain per use of an sslProfile (side and checks), made again only
    when the profile's files change: an accept or a dial parses no certificate, and a
    renewed one is used from the next connection on."""

    def __init__(self) -> None:
        self._domains: dict[tuple[TlsSettings, bool], tuple[Signature, SSLDomain]] = {}

    def get(self, tls: TlsSettings, *, server: bool) -> SSLDomain:
        """Raises proton's SSLException when the files cannot be used."""
        stamp = profile_signature(tls.profile)
        cached = self._domains.get((tls, server))
        if cached is None or cached[0] != stamp:
            cached = self._domains[(tls, server)] = (stamp, _ssl_domain(tls, server))
        return cached[1]


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
