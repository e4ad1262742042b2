"""The router core: every decision of the router, with no sockets, threads or clocks.

The driver reports what happened (a socket accepted, bytes read, a timer fired) by
calling the methods below with ``now``; the core answers with commands (see
``commands.py``) taken with ``take_commands()``. AMQP bytes are pulled per connection
with ``amqp_output(conn_id)`` when the driver is told the connection has some
(``TransmitAmqp``) and its socket can take them.

What lives where: ``connection.py`` knows the links of one AMQP connection,
``tcp.py`` the life of one TCP flow, ``streams.py`` one streamed delivery,
``routing.py`` the link-state protocol, ``management.py`` the $management agent. This
module wires them: it dispatches proton events and decides where each delivery goes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from proton import Data, Delivery, Event, Link, Message

from . import VERSION
from . import commands as cmd
from .config import AmqpConnector, AmqpListener, RouterConfig
from .connection import (
    CONTROL_CAPABILITY,
    DATA_LINK_CREDIT,
    INCOMING_CAPACITY,
    ConnectionOrigin,
    RouterConnection,
    capability_of,
    next_tag,
)
from .engine import AmqpEngine, TlsSettings, receive
from .message import (
    RA_FLAG_STREAMING,
    MalformedMessage,
    MessageHeader,
    RouterAnnotations,
    decode_message,
    encode_annotations,
    encode_message,
    encode_stream_header,
    header_of_complete,
    parse_header,
)
from .management import handle_request
from .routing import ControlMessage, LinkStateRouter, RemoteProtocolError, SendControl
from .streams import (
    ACCEPTED,
    MODIFIED,
    REJECTED,
    RELEASED,
    InboundStream,
    LocalStream,
    OutboundStream,
    StreamOwner,
)
from .tcp import Forwarder, TcpCounters, TcpFlow

RECONNECT_DELAYS = (0.0, 1.0, 1.0, 2.0, 4.0, 8.0)
CONTROL_ADDRESSES = ("qdrouter", "qdrouter.ma", "qdhello")
MANAGEMENT_ADDRESS = "$management"

ConnectorStatus = Literal["CONNECTING", "SUCCESS", "FAILED"]


@dataclass
class ConnectorState:
    config: AmqpConnector
    conn_id: int | None = None
    status: ConnectorStatus = "CONNECTING"
    message: str = ""
    failures: int = 0
    retry_at: float | None = None


def normalize_address(address: str) -> str:
    if address.startswith("amqp:/"):
        address = address[6:].lstrip("/")
    return address


class RouterCore:
    def __init__(self, config: RouterConfig, *, now: float, instance: int) -> None:
        self.config = config
        self.router_id = config.router.id
        self.instance = instance
        self.started_at = now
        self._commands: list[cmd.Command] = []
        self._conn_ids = itertools.count(1)
        self._flow_ids = itertools.count(1)
        self._temp_ids = itertools.count(1)
        self.connections: dict[int, RouterConnection] = {}
        self.neighbors: dict[str, RouterConnection] = {}
        self.connectors: dict[str, ConnectorState] = {}
        self.flows: dict[int, TcpFlow] = {}
        self.reply_flows: dict[str, TcpFlow] = {}
        self.endpoint_links: dict[str, tuple[int, Link]] = {}
        self.tcp_counters: dict[tuple[str, str], TcpCounters] = {}
        self.listening_tcp: set[str] = set()
        self.outstanding: dict[object, int] = {}
        self._dirty: set[int] = set()
        self._round_robin = itertools.count()
        router = config.router
        self.routing = LinkStateRouter(
            self.router_id,
            instance=instance,
            now=now,
            hello_interval=router.helloIntervalSeconds,
            hello_max_age=router.helloMaxAgeSeconds,
            ra_interval=router.raIntervalSeconds,
            ra_interval_flux=router.raIntervalFluxSeconds,
            remote_ls_max_age=router.remoteLsMaxAgeSeconds,
        )
        self._topology_version = -1
        self._now = now  # the time of the latest event: for calls that take no ``now``

    # --- lifecycle and configuration ---------------------------------------------------------

    def start(self, now: float) -> None:
        for listener in self.config.listeners.values():
            self._emit(cmd.Listen("amqp", listener.name, listener.host, listener.port))
        for connector in self.config.connectors.values():
            self._add_connector(connector, now)
        self._sync_tcp_config(now)
        self._after(now)

    def apply_config(self, new: RouterConfig, now: float) -> None:
        """Apply a changed config; unchanged entities (and their traffic) are left alone."""
        old = self.config
        self.config = new
        for name, listener in old.listeners.items():
            if new.listeners.get(name) != listener:
                self._emit(cmd.StopListening("amqp", name))
        for name, listener in new.listeners.items():
            if old.listeners.get(name) != listener:
                self._emit(cmd.Listen("amqp", name, listener.host, listener.port))
        for name, connector in old.connectors.items():
            if new.connectors.get(name) != connector:
                self._remove_connector(name, now)
        for name, connector in new.connectors.items():
            if old.connectors.get(name) != connector:
                self._add_connector(connector, now)
        for name, tcp_listener in old.tcp_listeners.items():
            if new.tcp_listeners.get(name) != tcp_listener and name in self.listening_tcp:
                self.listening_tcp.discard(name)
                self._emit(cmd.StopListening("tcp", name))
        self._sync_tcp_config(now)
        self._after(now)

    def _add_connector(self, connector: AmqpConnector, now: float) -> None:
        state = ConnectorState(connector)
        self.connectors[connector.name] = state
        self._dial(state, now)

    def _remove_connector(self, name: str, now: float) -> None:
        state = self.connectors.pop(name, None)
        if state is not None and state.conn_id is not None:
            conn = self.connections.get(state.conn_id)
            if conn is not None:
                self._close_connection(conn, now)

    def _dial(self, state: ConnectorState, now: float) -> None:
        connector = state.config
        tls = None
        if connector.sslProfile:
            tls = TlsSettings(
                self.config.ssl_profiles[connector.sslProfile],
                verify_hostname=connector.verifyHostname,
            )
        conn_id = next(self._conn_ids)
        try:
            engine = AmqpEngine(
                server=False,
                tls=tls,
                sasl_mechanisms=connector.saslMechanisms,
                peer_hostname=connector.host,
                max_frame_size=connector.maxFrameSize,
                idle_timeout=connector.idleTimeoutSeconds,
            )
        except Exception as e:  # proton reports unreadable certificates this way
            self._connector_failed(state, f"TLS setup failed: {e}", now)
            return
        origin = ConnectionOrigin(
            "connector", connector.name, connector.role, connector.cost, connector.host
        )
        conn = RouterConnection(conn_id, engine, origin, peer_host=connector.host)
        self.connections[conn_id] = conn
        state.conn_id = conn_id
        state.retry_at = None
        state.status = "CONNECTING"
        conn.open(self.router_id, VERSION)
        self._emit(cmd.ConnectAmqp(conn_id, connector.host, connector.port))

    def _connector_failed(self, state: ConnectorState, message: str, now: float) -> None:
        state.conn_id = None
        state.status = "FAILED"
        state.message = message
        delay = RECONNECT_DELAYS[min(state.failures, len(RECONNECT_DELAYS) - 1)]
        state.failures += 1
        state.retry_at = now + max(delay, 1.0)
        self._log("warning", "connector", f"{state.config.name}: {message}")

    # --- AMQP connections (driver -> core) ---------------------------------------------------

    def amqp_accepted(self, listener_name: str, peer_host: str, now: float) -> int | None:
        listener = self.config.listeners.get(listener_name)
        if listener is None:
            return None
        conn_id = next(self._conn_ids)
        engine = AmqpEngine(
            server=True,
            tls=self._listener_tls(listener),
            sasl_mechanisms=listener.saslMechanisms or "ANONYMOUS",
            max_frame_size=listener.maxFrameSize,
            idle_timeout=listener.idleTimeoutSeconds,
        )
        origin = ConnectionOrigin("listener", listener.name, listener.role, listener.cost, "")
        self.connections[conn_id] = RouterConnection(conn_id, engine, origin, peer_host=peer_host)
        return conn_id

    def _listener_tls(self, listener: AmqpListener) -> TlsSettings | None:
        if not listener.sslProfile:
            return None
        return TlsSettings(
            self.config.ssl_profiles[listener.sslProfile],
            require_peer_certificate=listener.authenticatePeer,
        )

    def amqp_connected(self, conn_id: int, now: float) -> None:
        conn = self.connections.get(conn_id)
        if conn is not None:
            self._process(conn, now)
            self._after(now)

    def amqp_data(self, conn_id: int, data: bytes, now: float) -> None:
        conn = self.connections.get(conn_id)
        if conn is None:
            return
        conn.engine.push(data)
        self._process(conn, now)
        self._after(now)

    def amqp_closed(self, conn_id: int, error: str, now: float) -> None:
        """The socket is gone (or could not be opened)."""
        conn = self.connections.get(conn_id)
        if conn is None:
            return
        conn.engine.close_input()
        self._connection_down(conn, conn.engine.error or error, now)
        self._after(now)

    def amqp_output(self, conn_id: int) -> bytes:
        conn = self.connections.get(conn_id)
        if conn is None:
            return b""
        conn.transmit_pending = False
        output = conn.engine.take_output()
        if conn.engine.output_closed:
            # proton wrote its last frame (a close, or a protocol error): end the socket.
            self._connection_down(conn, conn.engine.error or "connection closed", self._now)
            self._transmit_dirty()
        return output

    # --- TCP (driver -> core) ----------------------------------------------------------------

    def tcp_accepted(self, listener_name: str, now: float) -> int | None:
        listener = self.config.tcp_listeners.get(listener_name)
        if listener is None:
            return None
        destination = self._choose_destination(listener.address, exclude=())
        if destination is None:
            return None
        flow_id = next(self._flow_ids)
        counters = self._counters("listener", listener.name)
        flow = TcpFlow(flow_id, self._emit, counters, self._flow_closed, socket_ready=True)
        self.flows[flow_id] = flow
        self._count_flow(flow, destination)
        kind, target = destination
        if kind == "local":
            self._start_local_flow(flow, target)
        else:
            flow.reply_address = self._reply_address()
            self.reply_flows[flow.reply_address] = flow
            header = encode_stream_header(to=listener.address, reply_to=flow.reply_address)
            flow.outbound = self._open_stream(target, header, flow)
        self._after(now)
        return flow_id

    def tcp_connected(self, flow_id: int, now: float) -> None:
        flow = self.flows.get(flow_id)
        if flow is None:
            return
        reply_to = flow.reply_address
        if reply_to.startswith("local:"):
            listener_flow = self.flows.get(int(reply_to[6:]))
            reply = LocalStream(flow)
            flow.socket_connected(reply)
            if listener_flow is not None:
                listener_flow.inbound = reply
                reply.attach(listener_flow)
        else:
            router = self._router_of(reply_to)
            if router is None:
                flow.socket_failed()
            else:
                header = encode_stream_header(to=reply_to, reply_to=None)
                flow.socket_connected(self._open_stream(router, header, flow))
        self._after(now)

    def tcp_connect_failed(self, flow_id: int, error: str, now: float) -> None:
        flow = self.flows.get(flow_id)
        if flow is not None:
            self._log("info", "tcp", f"flow {flow_id}: backend connection failed: {error}")
            flow.socket_failed()
        self._after(now)

    def tcp_data(self, flow_id: int, data: bytes) -> None:
        flow = self.flows.get(flow_id)
        if flow is not None:
            flow.socket_data(data)
            self._transmit_dirty()

    def tcp_eof(self, flow_id: int, now: float) -> None:
        flow = self.flows.get(flow_id)
        if flow is not None:
            flow.socket_eof()
        self._after(now)

    def tcp_closed(self, flow_id: int, error: str, now: float) -> None:
        flow = self.flows.get(flow_id)
        if flow is not None and not flow.closed:
            flow.socket_failed()
        self._after(now)

    def tcp_write_paused(self, flow_id: int, paused: bool) -> None:
        flow = self.flows.get(flow_id)
        if flow is not None:
            flow.socket_write_paused(paused)
            self._transmit_dirty()

    # --- timers ------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        deadlines = [self.routing.get_timer()]
        deadlines += [c.retry_at for c in self.connectors.values()]
        deadlines += [c.tick_at for c in self.connections.values() if c.tick_at]
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    def handle_timer(self, now: float) -> None:
        self.routing.handle_timer(now)
        for state in list(self.connectors.values()):
            if state.retry_at is not None and state.retry_at <= now:
                self._dial(state, now)
        for conn in list(self.connections.values()):
            if conn.tick_at and conn.tick_at <= now:
                conn.tick_at = conn.engine.tick(now) or 0.0
                self._process(conn, now)
        self._after(now)

    def take_commands(self) -> list[cmd.Command]:
        commands, self._commands = self._commands, []
        return commands

    # --- proton events ------------------------------------------------------------------------

    def _process(self, conn: RouterConnection, now: float) -> None:
        self._now = now
        for event in conn.engine.events():
            handler = _HANDLERS.get(event.type)
            if handler is not None:
                handler(self, conn, event, now)
        if not conn.tick_at:
            conn.tick_at = conn.engine.tick(now) or 0.0
        self._dirty.add(conn.conn_id)

    def _on_remote_open(self, conn: RouterConnection, event: Event, now: float) -> None:
        connection = event.connection
        conn.peer_id = connection.remote_container or ""
        properties = connection.remote_properties or {}
        conn.peer_cost = int(properties.get("qd.inter-router-cost", 1) or 1)
        if not conn.dialled:
            conn.open(self.router_id, VERSION)
        conn.opened = True
        self._log("info", "conn", f"connection {conn.conn_id} to {conn.peer_id or conn.peer_host} "
                  f"open (role {conn.origin.role})")
        if conn.dialled:
            state = self.connectors.get(conn.origin.name)
            if state is not None:
                state.status, state.message, state.failures = "SUCCESS", "", 0
            if conn.origin.role == "inter-router":
                conn.attach_router_links()

    def _on_session_open(self, conn: RouterConnection, event: Event, now: float) -> None:
        session = event.session
        if session.state & session.LOCAL_UNINIT:
            session.incoming_capacity = INCOMING_CAPACITY
            session.open()

    def _on_link_open(self, conn: RouterConnection, event: Event, now: float) -> None:
        link = event.link
        if not link.state & Link.LOCAL_UNINIT:
            self._check_neighbor(conn, now)
            return
        remote = link.remote_target if link.is_receiver else link.remote_source
        capability = capability_of(remote)
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        if capability == CONTROL_CAPABILITY and conn.is_router_link:
            if link.is_sender:
                conn.control_sender = link
            else:
                conn.control_receiver = link
        elif link.is_sender and capability is None and link.remote_source.dynamic:
            address = self._reply_address()
            link.source.address = address
            self.endpoint_links[address] = (conn.conn_id, link)
            conn.dynamic_addresses.add(address)
        elif link.is_sender and conn.is_router_link:
            conn.data_senders.append(link)
        link.open()
        if link.is_receiver:
            link.flow(DATA_LINK_CREDIT)
        self._check_neighbor(conn, now)

    def _check_neighbor(self, conn: RouterConnection, now: float) -> None:
        if conn.origin.role != "inter-router" or not conn.control_ready or not conn.peer_id:
            return
        if self.neighbors.get(conn.peer_id) is conn:
            return
        self.neighbors[conn.peer_id] = conn
        self.routing.control_link_opened(conn.peer_id, conn.cost, now)

    def _on_link_close(self, conn: RouterConnection, event: Event, now: float) -> None:
        link = event.link
        stream = _current_stream(link)
        if stream is not None:
            _fail_stream(stream)
        if link.state & Link.LOCAL_ACTIVE:
            link.close()
        if link is conn.control_sender or link is conn.control_receiver:
            self._neighbor_lost(conn, now)

    def _on_delivery(self, conn: RouterConnection, event: Event, now: float) -> None:
        delivery = event.delivery
        link = delivery.link
        if link.is_sender:
            stream = getattr(delivery, "stream", None)
            if isinstance(stream, OutboundStream):
                stream.on_update()
            return
        self._on_incoming(conn, link, delivery, now)

    def _on_incoming(
        self, conn: RouterConnection, link: Link, delivery: Delivery, now: float
    ) -> None:
        stream = getattr(delivery, "stream", None)
        if delivery.aborted:
            if isinstance(stream, InboundStream):
                self._end_inbound(link, stream, aborted=True)
            else:
                delivery.settle()
                self._replenish(link)
            return
        data = receive(link, delivery.pending)
        complete = not delivery.partial
        if isinstance(stream, InboundStream):
            while data:
                stream.owner.stream_data(data)
                data = receive(link, delivery.pending)
            if complete:
                self._end_inbound(link, stream, aborted=False)
            return
        while delivery.pending > 0:  # a header larger than one read: take it all
            data += receive(link, delivery.pending)
        buffered: bytes = getattr(delivery, "buffer", b"") + (data or b"")
        try:
            header = header_of_complete(buffered) if complete else parse_header(buffered)
        except MalformedMessage as e:
            self._log("warning", "message", f"rejected a malformed message: {e}")
            self._refuse(conn, link, delivery, REJECTED, complete)
            return
        if header is None:
            delivery.buffer = buffered
            return
        self._route_incoming(conn, link, delivery, header, buffered, complete, now)

    def _end_inbound(self, link: Link, stream: InboundStream, *, aborted: bool) -> None:
        if stream.ended:
            return
        stream.ended = True
        if aborted or stream.settled:
            stream.delivery.settle()  # settling the current delivery also advances the link
        else:
            link.advance()
        self._replenish(link)
        stream.owner.stream_end(aborted)

    def _refuse(self, conn: RouterConnection, link: Link, delivery: Delivery, outcome: int,
                complete: bool) -> None:
        """Give a terminal outcome now; a delivery still arriving is drained, then settled."""
        stream = InboundStream(delivery, _DISCARD, partial(self._dirty.add, conn.conn_id))
        stream.complete(outcome)
        if complete:
            self._end_inbound(link, stream, aborted=False)

    def _replenish(self, link: Link) -> None:
        if link.credit < DATA_LINK_CREDIT // 2:
            link.flow(DATA_LINK_CREDIT - link.credit)

    def _on_transport_closed(self, conn: RouterConnection, event: Event, now: float) -> None:
        self._connection_down(conn, conn.engine.error or "connection closed", now)

    def _on_connection_remote_close(self, conn: RouterConnection, event: Event, now: float) -> None:
        if event.connection.state & event.connection.LOCAL_ACTIVE:
            event.connection.close()

    # --- routing deliveries --------------------------------------------------------------------

    def _route_incoming(
        self,
        conn: RouterConnection,
        link: Link,
        delivery: Delivery,
        header: MessageHeader,
        buffered: bytes,
        complete: bool,
        now: float,
    ) -> None:
        address = normalize_address(header.address or link.target.address or "")
        if self._is_whole_message_address(address):
            if not complete:
                delivery.buffer = buffered
                return
            delivery.settle()
            self._replenish(link)
            self._handle_message(conn, address, header, buffered, now)
            return
        body = buffered[header.stream_offset:] if header.stream_offset is not None else b""
        trace = header.annotations.trace if header.annotations else ()
        reply_flow = self.reply_flows.get(address)
        if reply_flow is not None:
            self._accept_stream(conn, link, delivery, reply_flow, body, complete)
            return
        router = self._router_of(address)
        destination = None
        if router is None:
            destination = self._choose_destination(address, exclude=trace)
            if destination is not None and destination[0] == "router":
                router = destination[1]
        if router is not None and router != self.router_id:
            if router in trace or self.routing.next_hop(router) not in self.neighbors:
                self._refuse(conn, link, delivery, RELEASED, complete)
                return
            forwarder = Forwarder()
            bare = buffered[_annotations_size(buffered, header):]
            head = bare[: len(bare) - len(body)]
            ingress = header.annotations.ingress if header.annotations else None
            forwarder.outbound = self._open_stream(router, head, forwarder, trace, ingress)
            self._accept_stream(conn, link, delivery, forwarder, body, complete)
            return
        connector = None
        if router is None and destination is not None:
            connector = self.config.tcp_connectors.get(destination[1])
        if connector is None or header.stream_offset is None or not header.reply_to:
            self._refuse(conn, link, delivery, RELEASED, complete)
            return
        flow = self._new_connector_flow(connector.name, header.reply_to, destination)
        self._accept_stream(conn, link, delivery, flow, body, complete)
        self._emit(cmd.OpenTcp(flow.flow_id, connector.host, connector.port))

    def _accept_stream(
        self,
        conn: RouterConnection,
        link: Link,
        delivery: Delivery,
        owner: TcpFlow | Forwarder,
        body: bytes,
        complete: bool,
    ) -> None:
        stream = InboundStream(delivery, owner, partial(self._dirty.add, conn.conn_id))
        owner.inbound = stream
        if body:
            owner.stream_data(body)
        if complete:
            self._end_inbound(link, stream, aborted=False)

    def _open_stream(
        self,
        router: str,
        header: bytes,
        owner: StreamOwner,
        trace: tuple[str, ...] = (),
        ingress: str | None = None,
    ) -> OutboundStream:
        """Start a streamed delivery toward ``router`` on a link of its own."""
        conn = self.neighbors[self.routing.next_hop(router) or router]
        annotations = RouterAnnotations(
            flags=RA_FLAG_STREAMING,
            ingress=ingress or self.router_id,
            trace=(*trace, self.router_id),
        )
        stream = OutboundStream(
            conn.streaming_link(),
            next_tag(),
            encode_annotations(annotations) + header,
            owner,
            partial(self._dirty.add, conn.conn_id),
            partial(self._stream_done, conn),
        )
        conn.active_streams.add(stream)
        self._dirty.add(conn.conn_id)
        return stream

    def _stream_done(self, conn: RouterConnection, stream: OutboundStream) -> None:
        conn.active_streams.discard(stream)
        link = stream.link
        if stream.clean and not conn.closed and link.state & Link.LOCAL_ACTIVE:
            conn.idle_streaming_links.append(link)
        elif link.state & Link.LOCAL_ACTIVE:
            link.close()

    # --- whole messages: routing protocol and management ---------------------------------------

    def _is_whole_message_address(self, address: str) -> bool:
        if address in (MANAGEMENT_ADDRESS, "_local/qdhello") or address in self.endpoint_links:
            return True
        if address.startswith("_topo/"):
            parts = address.split("/", 3)
            if len(parts) == 4 and parts[2] in ("all", self.router_id):
                return parts[3] in CONTROL_ADDRESSES or parts[3] == MANAGEMENT_ADDRESS
        return False

    def _handle_message(
        self, conn: RouterConnection, address: str, header: MessageHeader, encoded: bytes,
        now: float,
    ) -> None:
        try:
            message = decode_message(encoded, header)
        except MalformedMessage as e:
            self._log("warning", "message", str(e))
            return
        suffix = address.rsplit("/", 1)[-1]
        if suffix in CONTROL_ADDRESSES:
            opcode = (message.properties or {}).get("opcode")
            body = message.body
            if isinstance(opcode, str) and isinstance(body, dict):
                control = ControlMessage(opcode, {str(k): v for k, v in body.items()})
                try:
                    self.routing.receive(control, now)
                except RemoteProtocolError as e:
                    self._log("warning", "routing", f"ignored a {opcode} from {conn.peer_id}: {e}")
            if address.startswith("_topo/0/all/") and header.annotations is not None:
                self._relay_flood(conn, header, message)
        elif suffix == MANAGEMENT_ADDRESS:
            reply = handle_request(self, message)
            if reply is not None and message.reply_to:
                self.send_message(normalize_address(message.reply_to), reply)
        elif address in self.endpoint_links:
            self._send_on_link(*self.endpoint_links[address], message, annotated=False)

    def _relay_flood(self, conn: RouterConnection, header: MessageHeader, message: Message) -> None:
        """Pass a network-wide control message on, along the reverse shortest path."""
        annotations = header.annotations
        assert annotations is not None
        origin = annotations.ingress or str((message.body or {}).get("id", ""))
        hop = self.routing.next_hop(origin)
        if hop is not None and hop != conn.peer_id:
            return
        trace = (*annotations.trace, self.router_id)
        for peer, neighbor in self.neighbors.items():
            if peer != conn.peer_id and peer not in trace and neighbor.control_sender:
                ra = RouterAnnotations(0, None, origin, trace)
                self._send_encoded(neighbor, neighbor.control_sender,
                                   encode_annotations(ra) + encode_message(message))

    def send_message(self, address: str, message: Message) -> None:
        """Send a whole message to an address: a local endpoint or another router."""
        if address in self.endpoint_links:
            self._send_on_link(*self.endpoint_links[address], message, annotated=False)
            return
        router = self._router_of(address)
        hop = self.routing.next_hop(router) if router else None
        if hop is None or hop not in self.neighbors:
            return
        neighbor = self.neighbors[hop]
        link = neighbor.message_link()
        if link is not None:
            message.address = address
            self._send_on_link(neighbor.conn_id, link, message, annotated=True)

    def _send_on_link(self, conn_id: int, link: Link, message: Message, *, annotated: bool) -> None:
        conn = self.connections.get(conn_id)
        if conn is None:
            return
        encoded = encode_message(message)
        if annotated:
            ra = RouterAnnotations(0, None, self.router_id, (self.router_id,))
            encoded = encode_annotations(ra) + encoded
        self._send_encoded(conn, link, encoded)

    def _send_encoded(self, conn: RouterConnection, link: Link, encoded: bytes) -> None:
        delivery = link.delivery(next_tag())
        link.send(encoded)
        link.advance()
        delivery.settle()
        self._dirty.add(conn.conn_id)

    def _send_control(self, command: SendControl) -> None:
        body = command.message.body
        message = Message(address=command.to, properties={"opcode": command.message.opcode},
                          body=body)
        encoded = encode_annotations(RouterAnnotations(0, None, self.router_id, ())) + \
            encode_message(message)
        targets = [command.neighbor] if command.neighbor else list(self.neighbors)
        for peer in targets:
            neighbor = self.neighbors.get(peer)
            if neighbor is not None and neighbor.control_sender is not None:
                self._send_encoded(neighbor, neighbor.control_sender, encoded)

    # --- destinations and TCP listeners ----------------------------------------------------------

    def _choose_destination(
        self, address: str, *, exclude: tuple[str, ...]
    ) -> tuple[Literal["local", "router"], str] | None:
        """Balanced: fewest outstanding flows plus cost; a local connector costs 0."""
        candidates: list[tuple[int, int, tuple[Literal["local", "router"], str]]] = []
        for connector in self.config.tcp_connectors.values():
            if connector.address == address:
                key = ("local", connector.name)
                candidates.append((self.outstanding.get(key, 0), 0, key))
        for router, cost in self.routing.routers_with_address(address).items():
            if router in exclude or self.routing.next_hop(router) not in self.neighbors:
                continue
            key = ("router", router)
            candidates.append((self.outstanding.get(key, 0) + cost, cost, key))  # type: ignore[arg-type]
        if not candidates:
            return None
        if self.config.distribution(address) == "closest":
            best = min(c[1] for c in candidates)
            closest = [c[2] for c in candidates if c[1] == best]
            return closest[next(self._round_robin) % len(closest)]
        return min(candidates, key=lambda c: (c[0], c[1]))[2]

    def _sync_tcp_config(self, now: float) -> None:
        addresses = {c.address for c in self.config.tcp_connectors.values()}
        self.routing.set_mobile_addresses(addresses, now)
        self._evaluate_tcp_listeners()

    def _evaluate_tcp_listeners(self) -> None:
        """A tcpListener listens only while its address has a consumer somewhere."""
        for name, listener in self.config.tcp_listeners.items():
            reachable = self._choose_destination(listener.address, exclude=()) is not None
            if reachable and name not in self.listening_tcp:
                self.listening_tcp.add(name)
                self._emit(cmd.Listen("tcp", name, listener.host, listener.port))
            elif not reachable and name in self.listening_tcp:
                self.listening_tcp.discard(name)
                self._emit(cmd.StopListening("tcp", name))
        for name in list(self.listening_tcp):
            if name not in self.config.tcp_listeners:
                self.listening_tcp.discard(name)
                self._emit(cmd.StopListening("tcp", name))

    def _start_local_flow(self, flow: TcpFlow, connector_name: str) -> None:
        connector = self.config.tcp_connectors[connector_name]
        request = LocalStream(flow)
        flow.outbound = request
        peer = self._new_connector_flow(connector_name, f"local:{flow.flow_id}", None)
        peer.inbound = request
        request.attach(peer)
        self._emit(cmd.OpenTcp(peer.flow_id, connector.host, connector.port))

    def _new_connector_flow(
        self, connector_name: str, reply_to: str, destination: object
    ) -> TcpFlow:
        flow_id = next(self._flow_ids)
        counters = self._counters("connector", connector_name)
        flow = TcpFlow(flow_id, self._emit, counters, self._flow_closed, socket_ready=False)
        flow.reply_address = normalize_address(reply_to) if ":" not in reply_to[:6] else reply_to
        if destination is not None:
            self._count_flow(flow, destination)
        self.flows[flow_id] = flow
        return flow

    def _count_flow(self, flow: TcpFlow, destination: object) -> None:
        flow.route_key = destination
        self.outstanding[destination] = self.outstanding.get(destination, 0) + 1

    def _flow_closed(self, flow: TcpFlow) -> None:
        self.flows.pop(flow.flow_id, None)
        if flow.reply_address in self.reply_flows:
            del self.reply_flows[flow.reply_address]
        if flow.route_key is not None:
            remaining = self.outstanding.get(flow.route_key, 1) - 1
            if remaining > 0:
                self.outstanding[flow.route_key] = remaining
            else:
                self.outstanding.pop(flow.route_key, None)

    def _counters(self, kind: str, name: str) -> TcpCounters:
        return self.tcp_counters.setdefault((kind, name), TcpCounters())

    def _reply_address(self) -> str:
        return f"_topo/0/{self.router_id}/temp.{next(self._temp_ids)}"

    def _router_of(self, address: str) -> str | None:
        """The router a topological address names (``_topo/0/<router>/...``), else None."""
        if address.startswith("_topo/"):
            parts = address.split("/", 3)
            if len(parts) >= 3 and parts[2] != "all":
                return parts[2]
        return None

    # --- connection loss -------------------------------------------------------------------------

    def _connection_down(self, conn: RouterConnection, error: str, now: float) -> None:
        if conn.closed:
            return
        conn.closed = True
        self.connections.pop(conn.conn_id, None)
        self._emit(cmd.CloseAmqp(conn.conn_id, conn.engine.take_output()))
        for stream in list(conn.active_streams):
            _fail_stream(stream)
        conn.active_streams.clear()
        for address in conn.dynamic_addresses:
            self.endpoint_links.pop(address, None)
        self._neighbor_lost(conn, now)
        if conn.dialled:
            state = self.connectors.get(conn.origin.name)
            if state is not None and state.conn_id == conn.conn_id:
                self._connector_failed(state, error or "connection closed", now)
        if conn.opened or conn.origin.role != "normal":
            self._log("info", "conn", f"connection {conn.conn_id} "
                      f"({conn.peer_id or conn.peer_host}) closed: {error}")

    def _neighbor_lost(self, conn: RouterConnection, now: float) -> None:
        if conn.peer_id and self.neighbors.get(conn.peer_id) is conn:
            del self.neighbors[conn.peer_id]
            self.routing.control_link_lost(conn.peer_id, now)

    def _close_connection(self, conn: RouterConnection, now: float) -> None:
        conn.engine.connection.close()
        self._dirty.add(conn.conn_id)
        self._connection_down(conn, "closed by configuration", now)

    # --- plumbing --------------------------------------------------------------------------------

    def _after(self, now: float) -> None:
        """Run what every entry point ends with: routing output, listeners, transmits."""
        for command in self.routing.pending_commands():
            self._send_control(command)
        version = self.routing.topology_version
        if version != self._topology_version:
            self._topology_version = version
            self._evaluate_tcp_listeners()
        self._transmit_dirty()

    def _transmit_dirty(self) -> None:
        for conn_id in self._dirty:
            conn = self.connections.get(conn_id)
            if conn is not None and not conn.transmit_pending:
                conn.transmit_pending = True
                self._commands.append(cmd.TransmitAmqp(conn_id))
        self._dirty.clear()

    def _emit(self, command: cmd.Command) -> None:
        self._commands.append(command)

    def _log(self, level: Literal["debug", "info", "warning", "error"], module: str, text: str) -> None:
        self._commands.append(cmd.Log(level, module, text))

    def mark_dirty(self, conn_id: int) -> None:
        self._dirty.add(conn_id)


def _annotations_size(buffered: bytes, header: MessageHeader) -> int:
    return int(Data().decode(buffered)) if header.annotations is not None else 0


def _current_stream(link: Link) -> Any:
    delivery = link.current
    return getattr(delivery, "stream", None) if delivery is not None else None


def _fail_stream(stream: Any) -> None:
    """The link or connection under a stream is gone."""
    if isinstance(stream, InboundStream):
        if not stream.ended:
            stream.ended = True
            stream.settled = True
            stream.owner.stream_end(True)
    elif isinstance(stream, OutboundStream) and not stream.settled:
        stream.owner.stream_outcome(MODIFIED)
        stream.abort()


class _Discard:
    """The owner of a refused delivery that is still arriving: its bytes are dropped."""

    inbound: InboundStream | None = None

    def stream_data(self, data: bytes) -> None:
        pass

    def stream_end(self, aborted: bool) -> None:
        pass

    def stream_acked(self, offset: int) -> None:
        pass

    def stream_outcome(self, outcome: int) -> None:
        pass


_DISCARD = _Discard()


_Handler = Callable[[RouterCore, RouterConnection, Event, float], None]
_HANDLERS: dict[Any, _Handler] = {
    Event.CONNECTION_REMOTE_OPEN: RouterCore._on_remote_open,
    Event.CONNECTION_REMOTE_CLOSE: RouterCore._on_connection_remote_close,
    Event.SESSION_REMOTE_OPEN: RouterCore._on_session_open,
    Event.LINK_REMOTE_OPEN: RouterCore._on_link_open,
    Event.LINK_REMOTE_CLOSE: RouterCore._on_link_close,
    Event.LINK_REMOTE_DETACH: RouterCore._on_link_close,
    Event.DELIVERY: RouterCore._on_delivery,
    Event.TRANSPORT_CLOSED: RouterCore._on_transport_closed,
}
