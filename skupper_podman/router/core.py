"""The router core: every decision of the router, with no sockets, threads or clocks.

The driver reports what happened (a socket accepted, bytes read, a timer fired) by
calling the methods below with ``now``; the core answers with commands (see
``commands.py``) taken with ``take_commands()``. AMQP bytes are pulled per connection
with ``amqp_output(conn_id)`` when the driver is told the connection has some
(``TransmitAmqp``) and its socket can take them.

What lives where: ``amqp_events.py`` turns proton events into decisions on deliveries,
``control.py`` handles whole messages (routing protocol, management, edge tracking),
``addressing.py`` picks destinations, ``connection.py`` knows the links of one AMQP
connection, ``tcp.py`` the life of one TCP flow, ``streams.py`` one streamed delivery,
``routing.py`` the link-state protocol. This module owns the state and the entry points.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal

from proton import Condition, Connection, Link

from . import VERSION, amqp_events, control
from . import commands as cmd
from .addressing import AddressTable, Destination
from .config import AmqpConnector, AmqpListener, RouterConfig
from .connection import ConnectionOrigin, RouterConnection, next_tag
from .engine import AmqpEngine, TlsSettings
from .message import RA_FLAG_STREAMING, RouterAnnotations, encode_annotations
from .routing import LinkStateRouter
from .streams import OutboundStream, StreamOwner
from .tcp_adaptor import TcpAdaptor

# Redial soon after a failure (a peer restarting is back within a second or two), then
# back off to a bounded pace: a peer that comes back is found within 2 s.
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
HOLD_LIMIT = 1.0  # a receiver that never shows it took a delivery gets the rest after this
NEW_STREAM = RouterAnnotations(flags=RA_FLAG_STREAMING)
TLS_HANDSHAKE = b"\x16"  # the first byte of every TLS connection (a handshake record)
LogLevel = cmd.LogLevel
ConnectorStatus = Literal["CONNECTING", "SUCCESS", "FAILED"]


@dataclass
class ConnectorState:
    config: AmqpConnector
    conn_id: int | None = None
    status: ConnectorStatus = "CONNECTING"
    message: str = ""
    failures: int = 0
    retry_at: float | None = None


@dataclass
class DeliveryCounts:
    """Deliveries this router started (ingress), ended (egress) and passed on (transit),
    and the outcomes its flows saw, as skupper-router's routerMetrics counts them."""

    ingress: int = 0
    egress: int = 0
    transit: int = 0
    accepted: int = 0
    released: int = 0
    modified: int = 0
    retried: int = 0  # flows sent to another backend after one could not be reached


class RouterCore:
    def __init__(self, config: RouterConfig, *, now: float, instance: int) -> None:
        self.config = config
        self.router_id = config.router.id
        self.edge_mode = config.router.mode == "edge"
        self.instance = instance
        self.started_at = now
        self._now = now  # the time of the latest event, for calls that take no ``now``
        self.deliveries = DeliveryCounts()
        # facts of the process (memory, host name) for management; the driver sets it
        self.process_info: Callable[[], dict[str, Any]] = dict
        self._commands: list[cmd.Command] = []
        self._conn_ids = itertools.count(1)
        self._rng = random.Random(instance)  # weighted listeners: reproducible per instance
        self._temp_ids = itertools.count(1)
        self.connections: dict[int, RouterConnection] = {}
        self.neighbors: dict[str, RouterConnection] = {}  # interior: router id -> connection
        self.edge_connections: dict[str, RouterConnection] = {}  # interior: attached edges
        self.uplink: RouterConnection | None = None  # edge: the active uplink
        self.connectors: dict[str, ConnectorState] = {}
        self.endpoint_links: dict[str, tuple[int, Link]] = {}
        self.addresses = AddressTable()
        self.tcp = TcpAdaptor(
            config, self, self.addresses, self.deliveries, self._emit, self.log, rng=self._rng
        )
        self._dirty: set[int] = set()
        router = config.router
        self.routing: LinkStateRouter | None = None
        if not self.edge_mode:
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
        self._two_way: set[str] = set()  # neighbours the routing protocol saw both ways
        self._routes: dict[str, tuple[str, int]] = {}  # as last logged: router -> (hop, cost)

    def outgoing_annotations(self, received: RouterAnnotations) -> RouterAnnotations:
        """The annotations a message leaves this router with, composed as skupper-router
        composes them: an interior keeps the ingress (or becomes it) and adds itself to
        the trace; an edge sends neither."""
        if self.edge_mode:
            return replace(received, ingress=None, trace=())
        ingress = received.ingress or self.router_id
        return replace(received, ingress=ingress, trace=(*received.trace, self.router_id))

    # --- lifecycle and configuration -------------------------------------------------------------

    def start(self, now: float) -> None:
        for listener in self.config.listeners.values():
            self._emit(cmd.Listen("amqp", listener.name, listener.host, listener.port))
        for connector in self.config.connectors.values():
            self._add_connector(connector, now)
        self._sync_addresses(now)
        self._after(now)

    def apply_config(self, new: RouterConfig, now: float) -> None:
        """Apply a changed config; unchanged entities (and their traffic) are left alone."""
        old, self.config = self.config, new
        self.tcp.config = new
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
            new_listener = new.tcp_listeners.get(name)
            profile = tcp_listener.sslProfile
            changed = new_listener != tcp_listener or (
                profile and old.ssl_profiles.get(profile) != new.ssl_profiles.get(profile)
            )
            if changed:
                self.tcp.stop_listening(name)
        for conn in list(self.connections.values()):
            if not conn.dialled and conn.engine.peer_fingerprint in new.revoked:
                self.refuse_connection(conn, "amqp:unauthorized-access", "certificate revoked")
        self._sync_addresses(now)
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
                conn.engine.connection.close()
                self.connection_down(conn, "removed from the configuration", now)

    def _dial(self, state: ConnectorState, now: float) -> None:
        connector = state.config
        tls = None
        if connector.sslProfile:
            profile = self.config.ssl_profiles[connector.sslProfile]
            tls = TlsSettings(profile, verify_hostname=connector.verifyHostname)
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
        conn_id = next(self._conn_ids)
        origin = ConnectionOrigin(
            "connector", connector.name, connector.role, connector.cost, connector.host
        )
        peer = f"{connector.host}:{connector.port}"
        conn = RouterConnection(conn_id, engine, origin, peer_host=peer, created_at=now)
        self.connections[conn_id] = conn
        state.conn_id, state.retry_at, state.status = conn_id, None, "CONNECTING"
        conn.open(self.router_id, VERSION)
        self._emit(cmd.ConnectAmqp(conn_id, connector.host, connector.port))

    def _connector_failed(self, state: ConnectorState, message: str, now: float) -> None:
        state.conn_id = None
        state.status = "FAILED"
        state.message = message
        state.retry_at = now + RECONNECT_DELAYS[min(state.failures, len(RECONNECT_DELAYS) - 1)]
        state.failures += 1
        self.log("warning", "connector", f"{state.config.name}: {message}")

    def connector_opened(self, conn: RouterConnection) -> None:
        state = self.connectors.get(conn.origin.name)
        if state is not None:
            state.status, state.message, state.failures = "SUCCESS", "", 0

    # --- AMQP connections (driver -> core) -------------------------------------------------------

    def amqp_accepted(self, listener_name: str, peer_host: str, now: float) -> int | None:
        listener = self.config.listeners.get(listener_name)
        if listener is None:
            return None
        engine = AmqpEngine(
            server=True,
            tls=self._listener_tls(listener),
            sasl_mechanisms=listener.saslMechanisms or "ANONYMOUS",
            max_frame_size=listener.maxFrameSize,
            idle_timeout=listener.idleTimeoutSeconds,
        )
        conn_id = next(self._conn_ids)
        origin = ConnectionOrigin("listener", listener.name, listener.role, listener.cost, "")
        self.connections[conn_id] = RouterConnection(
            conn_id, engine, origin, peer_host=peer_host, created_at=now
        )
        return conn_id

    def _listener_tls(self, listener: AmqpListener) -> TlsSettings | None:
        if not listener.sslProfile:
            return None
        profile = self.config.ssl_profiles[listener.sslProfile]
        return TlsSettings(profile, require_peer_certificate=listener.authenticatePeer)

    def amqp_connected(self, conn_id: int, now: float) -> None:
        conn = self.connections.get(conn_id)
        if conn is not None:
            self._process(conn, now)
            self._after(now)

    def amqp_data(self, conn_id: int, data: bytes, now: float) -> None:
        conn = self.connections.get(conn_id)
        if conn is None:
            return
        if not conn.received_any and not conn.dialled and conn.engine.ssl is not None:
            conn.received_any = True
            if data[:1] != TLS_HANDSHAKE:
                # proton would answer a plain AMQP/SASL header and wait: refuse it at once.
                self.log(
                    "warning",
                    "conn",
                    f"connection {conn.conn_id} from {conn.peer_host}: "
                    "not TLS on a TLS listener, closed",
                )
                self.connection_down(conn, "not TLS", now)
                self._after(now)
                return
        conn.engine.push(data)
        self._process(conn, now)
        self._after(now)

    def amqp_closed(self, conn_id: int, error: str, now: float) -> None:
        """The socket is gone (or could not be opened)."""
        conn = self.connections.get(conn_id)
        if conn is None:
            return
        # What proton says after the input ends is a TLS "unexpected eof", which would hide
        # the driver's reason (connection refused, reset): only an earlier error is news.
        earlier = conn.engine.error
        conn.engine.close_input()
        self.connection_down(conn, earlier or error, now)
        self._after(now)

    def router_id_clash(self, conn: RouterConnection) -> str:
        """Why a router linking here cannot be told apart from one already known (two
        sites with one name), or "" when it can. A restarted router keeps its link
        credential and takes its old connection's place; another site with the same
        name comes with another certificate and is refused."""
        peer = conn.peer_id
        if peer == self.router_id:
            return f"router id {peer} is this router's own: two sites have the name {peer}"
        for other in (self.neighbors.get(peer), self.edge_connections.get(peer)):
            if other is None or other is conn or other.closed:
                continue
            if other.engine.peer_fingerprint != conn.engine.peer_fingerprint:
                return (
                    f"a router with id {peer} is already linked here with another "
                    f"certificate: two sites have the name {peer}; rename one"
                )
        return ""

    def refuse_connection(self, conn: RouterConnection, condition: str, text: str) -> None:
        """Close an AMQP connection with an error the peer sees (e.g. a revoked identity)."""
        conn.refused = True
        connection = conn.engine.connection
        connection.condition = Condition(condition, text)
        if connection.state & connection.LOCAL_UNINIT:
            connection.container = self.router_id
            connection.open()
        connection.close()
        self.log(
            "warning",
            "conn",
            f"connection {conn.conn_id} from {conn.peer_host} "
            f"({conn.engine.peer_subject}) refused: {text}",
        )
        self.mark_dirty(conn.conn_id)

    def amqp_output(self, conn_id: int) -> bytes:
        conn = self.connections.get(conn_id)
        if conn is None:
            return b""
        conn.transmit_pending = False
        output = conn.engine.take_output()
        if conn.engine.output_closed:
            # proton wrote its last frame (a close, or a protocol error): end the socket.
            self.connection_down(conn, conn.engine.error or "connection closed", self._now)
            self._transmit_dirty()
        return output

    # --- TCP (driver -> core) --------------------------------------------------------------------

    def tcp_accepted(self, listener_name: str, now: float) -> int | None:
        flow_id = self.tcp.accepted(listener_name)
        self._after(now)
        return flow_id

    def tcp_connected(self, flow_id: int, now: float) -> None:
        self.tcp.connected(flow_id, now)
        self._after(now)

    def tcp_connect_failed(self, flow_id: int, error: str, now: float) -> None:
        self.tcp.connect_failed(flow_id, error, now)
        self._after(now)

    def backend_probed(self, connector: str, error: str, now: float) -> None:
        """A probe of a backend out of rotation ended (``error`` empty: it answered)."""
        self.tcp.probed(connector, error, now)
        self._after(now)

    def tcp_handshake_failed(self, listener: str, error: str, now: float) -> None:
        """A client of a TLS tcpListener was refused during the handshake."""
        self.tcp.handshake_failed(listener, error)
        self._after(now)

    def tcp_data(self, flow_id: int, data: bytes) -> None:
        flow = self.tcp.flows.get(flow_id)
        if flow is not None:
            flow.socket_data(data)
            self._transmit_dirty()

    def tcp_eof(self, flow_id: int, now: float) -> None:
        flow = self.tcp.flows.get(flow_id)
        if flow is not None:
            flow.socket_eof()
        self._after(now)

    def tcp_closed(self, flow_id: int, error: str, now: float) -> None:
        flow = self.tcp.flows.get(flow_id)
        if flow is not None and not flow.closed:
            flow.socket_failed()
        self._after(now)

    def tcp_sent(self, flow_id: int, size: int) -> None:
        flow = self.tcp.flows.get(flow_id)
        if flow is not None:
            flow.socket_took(size)
            self._transmit_dirty()

    def tcp_write_paused(self, flow_id: int, paused: bool) -> None:
        flow = self.tcp.flows.get(flow_id)
        if flow is not None:
            flow.socket_write_paused(paused)
            self._transmit_dirty()

    # --- timers ----------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        deadlines = [self.tcp.health.next_probe()]
        deadlines.append(self.routing.get_timer() if self.routing else None)
        deadlines += [c.retry_at for c in self.connectors.values()]
        deadlines += [c.tick_at for c in self.connections.values() if c.tick_at]
        deadlines += [
            min(c.held_streams.values()) + HOLD_LIMIT
            for c in self.connections.values()
            if c.held_streams
        ]
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self.routing is not None:
            self.routing.handle_timer(now)
        for state in list(self.connectors.values()):
            if state.retry_at is not None and state.retry_at <= now:
                self._dial(state, now)
        self.tcp.start_probes(now)
        for conn in list(self.connections.values()):
            if conn.tick_at and conn.tick_at <= now:
                conn.tick_at = conn.engine.tick(now) or 0.0
                self._process(conn, now)
            elif conn.held_streams:
                self._release_held(conn, now)
                self._dirty.add(conn.conn_id)
        self._after(now)

    def take_commands(self) -> list[cmd.Command]:
        commands, self._commands = self._commands, []
        return commands

    def _process(self, conn: RouterConnection, now: float) -> None:
        self._now = now
        amqp_events.process(self, conn, now)
        if conn.held_streams:
            self._release_held(conn, now)
        # Once the peer's Open (its idle timeout) is in, proton's next deadline is when to
        # send a heartbeat, usually sooner than the one it gave before: tick again then.
        peer_open = bool(conn.engine.connection.state & Connection.REMOTE_ACTIVE)
        if not conn.tick_at or (peer_open and not conn.ticked_open):
            conn.ticked_open = peer_open
            conn.tick_at = conn.engine.tick(now) or 0.0
        self._dirty.add(conn.conn_id)

    # --- destinations ----------------------------------------------------------------------------

    def choose_destination(
        self,
        address: str,
        exclude: tuple[str, ...] = (),
        from_edge: str = "",
        avoid: Collection[object] = (),
    ) -> Destination | None:
        """Where a new flow for ``address`` goes (balanced or closest), None if nowhere.

        ``exclude``: routers already on the delivery's trace (loop prevention);
        ``from_edge``: the edge it came from, which must not get it back;
        ``avoid``: destinations that released the flow already.
        """
        remote: dict[str, int] = {}
        if self.routing is not None:
            remote = {
                router: cost
                for router, cost in self.routing.routers_with_address(address).items()
                if router not in exclude and self.routing.next_hop(router) in self.neighbors
            }
        return self.addresses.choose(
            address,
            remote=remote,
            closest=self.config.distribution(address) == "closest",
            exclude=lambda d: (
                (d.kind == "edge" and d.name == from_edge)
                or (d.kind == "uplink" and self.uplink is None)
                or d in avoid
            ),
        )

    def reachable(self, address: str, *, excluding_edge: str = "") -> bool:
        return self.choose_destination(address, from_edge=excluding_edge) is not None

    def connection_for(self, destination: Destination) -> RouterConnection | None:
        if destination.kind == "uplink":
            return self.uplink
        if destination.kind == "edge":
            return self.edge_connections.get(destination.name)
        if destination.kind == "router" and self.routing is not None:
            return self.neighbors.get(self.routing.next_hop(destination.name) or "")
        return None

    def route_to_address(self, address: str) -> tuple[RouterConnection, str] | None:
        """The connection toward a topological or edge address, and the router it names."""
        parts = address.split("/", 3)
        if len(parts) < 3 or parts[0] not in ("_topo", "_edge"):
            return None
        # _topo/<area>/<router>/... and _edge/<edge router>/...
        router = parts[1] if parts[0] == "_edge" else parts[2]
        if parts[0] == "_topo" and (parts[1] != "0" or router == "all"):
            return None
        if router == self.router_id:
            return None
        if self.edge_mode:
            return (self.uplink, router) if self.uplink is not None else None
        if parts[0] == "_edge" and router in self.edge_connections:
            return self.edge_connections[router], router
        assert self.routing is not None
        target = router
        if parts[0] == "_edge":
            hosts = self.routing.routers_with_edge(router)
            if not hosts:
                return None
            target = min(hosts, key=lambda r: (hosts[r], r))
        hop = self.routing.next_hop(target)
        conn = self.neighbors.get(hop or "")
        return (conn, target) if conn is not None else None

    def is_local_address(self, address: str) -> bool:
        prefix = "_edge" if self.edge_mode else "_topo/0"
        return address.startswith(f"{prefix}/{self.router_id}/")

    def uplink_address_changed(self, address: str, reachable: bool) -> None:
        if reachable:
            self.addresses.uplink.add(address)
        else:
            self.addresses.uplink.discard(address)
        self.reset_topology()

    def reset_topology(self) -> None:
        """Something reachability depends on changed: re-check listeners and edge tracking."""
        self._topology_version = -1

    # --- streams ---------------------------------------------------------------------------------

    def open_stream(
        self,
        destination: Destination,
        header: bytes,
        owner: StreamOwner,
    ) -> OutboundStream | None:
        conn = self.connection_for(destination)
        if conn is None:
            return None
        return self.stream_on(conn, header, owner)

    def stream_on(
        self,
        conn: RouterConnection,
        header: bytes,
        owner: StreamOwner,
        received: RouterAnnotations = NEW_STREAM,
    ) -> OutboundStream:
        """Start a streamed delivery on a link of its own on ``conn``; ``received``: the
        annotations of the delivery it passes on, when it does."""
        annotations = self.outgoing_annotations(received)
        stream = OutboundStream(
            conn.streaming_link(),
            next_tag(),
            encode_annotations(annotations) + header,
            owner,
            partial(self._dirty.add, conn.conn_id),
            partial(self._stream_done, conn),
            partial(self._stream_held, conn),
        )
        conn.active_streams.add(stream)
        if not stream.start_credit:
            self._stream_held(conn, stream)  # to learn the new link's first grant
        self._dirty.add(conn.conn_id)
        return stream

    def _stream_held(self, conn: RouterConnection, stream: OutboundStream) -> None:
        conn.held_streams.setdefault(stream, self._now)

    def _release_held(self, conn: RouterConnection, now: float) -> None:
        """Streams whose receiver took their delivery, or had HOLD_LIMIT to, go on."""
        for stream, since in list(conn.held_streams.items()):
            if stream.held is not None and not stream.start_credit:
                stream.start_credit = stream.link.credit  # a new link's first grant
                if now < since + HOLD_LIMIT:
                    continue
            if stream.held is None or stream.taken_by_peer or now >= since + HOLD_LIMIT:
                del conn.held_streams[stream]
                stream.release()

    def _stream_done(self, conn: RouterConnection, stream: OutboundStream) -> None:
        conn.active_streams.discard(stream)
        link = stream.link
        if stream.clean and not conn.closed and link.state & link.LOCAL_ACTIVE:
            conn.idle_streaming_links.append(link)
        elif link.state & link.LOCAL_ACTIVE:
            link.close()

    # --- addresses and TCP listeners -------------------------------------------------------------

    def _sync_addresses(self, now: float) -> None:
        """Local consumers changed (config, edges, backends' health): advertise them,
        re-check listeners."""
        self.addresses.set_local(self.tcp.in_rotation())
        if self.routing is not None:
            self.routing.set_mobile_addresses(
                self.addresses.consumer_addresses(), now, edges=self.edge_connections
            )
        if self.uplink is not None:
            self._sync_uplink_links(self.uplink)
        self._topology_version = -1

    def _sync_uplink_links(self, uplink: RouterConnection) -> None:
        consumes = {key for _, key in self.tcp.in_rotation()}
        uplink.sync_edge_addresses(consumes, self.tcp.produced_keys())
        self._dirty.add(uplink.conn_id)

    def edge_addresses_changed(self, now: float) -> None:
        """An attached edge added or removed a consumer or produced-to address."""
        self.addresses.edges = {}
        for edge_id, conn in self.edge_connections.items():
            for address in conn.edge_consumes:
                self.addresses.add_edge_consumer(address, edge_id)
        self._sync_addresses(now)

    # --- router links: neighbours, edges, uplinks ------------------------------------------------

    def router_link_ready(self, conn: RouterConnection, now: float) -> None:
        """Control links up (interior), or an edge connection open (either side)."""
        if conn.origin.role == "inter-router" and self.routing is not None:
            if self.neighbors.get(conn.peer_id) is not conn:
                self.neighbors[conn.peer_id] = conn
                self.routing.control_link_opened(conn.peer_id, conn.cost, now)
        elif conn.origin.role == "edge" and self.edge_mode and conn.dialled:
            if self.uplink is None:
                self._activate_uplink(conn)
        elif conn.origin.role == "edge" and not self.edge_mode and not conn.dialled:
            self.edge_connections[conn.peer_id] = conn
            self.edge_addresses_changed(now)

    def _activate_uplink(self, conn: RouterConnection) -> None:
        self.uplink = conn
        conn.attach_edge_uplink(self.router_id)
        self._sync_uplink_links(conn)
        self.log("info", "edge", f"uplink to {conn.peer_id} active")

    def connection_down(self, conn: RouterConnection, error: str, now: float) -> None:
        if conn.closed:
            return
        conn.closed = True
        self.connections.pop(conn.conn_id, None)
        self._emit(cmd.CloseAmqp(conn.conn_id, conn.engine.take_output()))
        for stream in list(conn.active_streams):
            amqp_events.fail_stream(stream)
        conn.active_streams.clear()
        for address in conn.dynamic_addresses:
            self.endpoint_links.pop(address, None)
        self.router_link_lost(conn, now)
        if conn.dialled:
            state = self.connectors.get(conn.origin.name)
            if state is not None and state.conn_id == conn.conn_id:
                self._connector_failed(state, error or "connection closed", now)
        if conn.opened or conn.origin.role != "normal":
            peer = conn.peer_id or conn.peer_host
            self.log("info", "conn", f"connection {conn.conn_id} ({peer}) closed: {error}")

    def router_link_lost(self, conn: RouterConnection, now: float) -> None:
        if self.neighbors.get(conn.peer_id) is conn:
            del self.neighbors[conn.peer_id]
            if self.routing is not None:
                self.routing.control_link_lost(conn.peer_id, now)
        if self.edge_connections.get(conn.peer_id) is conn:
            del self.edge_connections[conn.peer_id]
            self.edge_addresses_changed(now)
        if self.uplink is conn:
            self.uplink = None
            self.addresses.uplink.clear()
            self._topology_version = -1
            for other in self.connections.values():
                if other.origin.role == "edge" and other.dialled and other.opened:
                    self._activate_uplink(other)
                    break

    # --- plumbing --------------------------------------------------------------------------------

    def _after(self, now: float) -> None:
        """What every entry point ends with: routing output, listeners, tracking, transmits."""
        if self.routing is not None:
            self._drop_silent_neighbors(now)
            for command in self.routing.pending_commands():
                control.send_control(self, command)
            version = self.routing.topology_version
        else:
            version = 0
        if version != self._topology_version:
            self._topology_version = version
            self._log_route_changes()
            self.tcp.evaluate_listeners()
            control.send_tracking_updates(self)
        self._transmit_dirty()

    def _log_route_changes(self) -> None:
        if self.routing is None:
            return
        routes = {
            router_id: (self.routing.next_hop(router_id) or router_id, cost)
            for router_id, cost in self.routing.reachable_routers().items()
        }
        for router_id in sorted(self._routes.keys() - routes.keys()):
            self.log("info", "route", f"router {router_id} unreachable")
        for router_id, (hop, cost) in sorted(routes.items()):
            if self._routes.get(router_id) != (hop, cost):
                via = "direct" if hop == router_id else f"via {hop}"
                self.log("info", "route", f"router {router_id} {via}, cost {cost}")
        self._routes = routes

    def _drop_silent_neighbors(self, now: float) -> None:
        """A neighbour whose HELLOs stopped (a frozen host, a partition) keeps its TCP
        connection open: close it, so its flows end and the connector redials."""
        assert self.routing is not None
        two_way = self.routing.neighbors()
        for peer in self._two_way - two_way:
            conn = self.neighbors.get(peer)
            if conn is not None:
                conn.engine.connection.close()
                self.connection_down(conn, "no HELLO from the neighbour", now)
        self._two_way = two_way

    def _transmit_dirty(self) -> None:
        for conn_id in self._dirty:
            conn = self.connections.get(conn_id)
            if conn is not None and not conn.transmit_pending:
                conn.transmit_pending = True
                self._commands.append(cmd.TransmitAmqp(conn_id))
        self._dirty.clear()

    def reply_address(self) -> str:
        prefix = "_edge" if self.edge_mode else "_topo/0"
        return f"{prefix}/{self.router_id}/temp.{next(self._temp_ids)}"

    def consumers_changed(self) -> None:
        """A connector left or rejoined the rotation."""
        self._sync_addresses(self._now)

    def _emit(self, command: cmd.Command) -> None:
        self._commands.append(command)

    @property
    def now(self) -> float:
        """The time of the latest event."""
        return self._now

    def log(self, level: LogLevel, module: str, text: str) -> None:
        self._commands.append(cmd.Log(level, module, text))

    def mark_dirty(self, conn_id: int) -> None:
        self._dirty.add(conn_id)
