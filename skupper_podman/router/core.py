"""The router core: every decision of the router, with no sockets, threads or clocks.

The driver reports what happened (a socket accepted, bytes read, a timer fired) by
calling the methods below with ``now``; the core answers with commands (see
``commands.py``) taken with ``take_commands()``. AMQP bytes are pulled per connection
with ``amqp_output(conn_id)`` when the driver is told the connection has some
(``TransmitAmqp``) and its socket can take them.

Its parts (docs/architecture.md has the picture): ``connectors.py``, ``fabric.py``,
``amqp_events.py`` and ``delivery_events.py``, ``control.py``, ``outbound_streams.py``,
``tcp_adaptor.py``, ``view.py``. This module owns the connections, the entry points, the
timer and the work after every event.
"""

from __future__ import annotations

import random

from . import amqp_events, control
from . import commands as cmd
from .advertising import Advertising
from .config import RouterConfig
from .connection import RouterConnection
from .connectors import AmqpConnectors
from .delivery_events import fail_stream
from .event_context import EventContext
from .fabric import Fabric
from .observation import Observation
from .outbound_streams import OutboundStreams, holds, next_release, release_held
from .tcp_adaptor import TcpAdaptor
from .view import DeliveryCounts, RouterView

TLS_HANDSHAKE = b"\x16"  # the first byte of every TLS connection (a handshake record)
LogLevel = cmd.LogLevel


class RouterCore:
    def __init__(
        self, config: RouterConfig, *, now: float, instance: int, epoch: float = 0
    ) -> None:
        self.config = config
        self._now = now  # the time of the latest event, for calls that take no ``now``
        self.deliveries = DeliveryCounts()
        self._commands: list[cmd.Command] = []
        self.connections: dict[int, RouterConnection] = {}
        self.fabric = Fabric(config, instance=instance, now=now)
        self.connectors = AmqpConnectors(
            config.router.id,
            config,
            self.connections,
            emit=self._emit,
            log=self.log,
            mark_dirty=self.mark_dirty,
        )
        self.streams = OutboundStreams(self.fabric, self.mark_dirty, lambda: self._now)
        self.observation = Observation(
            config,
            self.fabric,
            self.connections,
            lambda conn, link, data: control.send_encoded(self.control, conn, link, data),
            now=now,
            epoch=epoch,
            instance=instance,
        )
        self.tcp = TcpAdaptor(
            config,
            self.fabric,
            self.streams,
            self.fabric.addresses,
            self.deliveries,
            self._emit,
            self.log,
            consumers_changed=self.consumers_changed,
            rng=random.Random(instance),  # weighted listeners: reproducible per instance
            observer=self.observation.reporter,
            clock=lambda: self._now,
        )
        self.view = RouterView(
            self.fabric,
            self.connections,
            self.connectors,
            self.tcp,
            self.deliveries,
            instance=instance,
            started_at=now,
            clock=lambda: self._now,
            services=self.observation.reporter.services,
        )
        self.advertising = Advertising(self.fabric, self.tcp, self.observation, self.mark_dirty)
        self.control = control.ControlPlane(
            self.fabric, self.connections, self.view, self.log, self.mark_dirty
        )
        self.events = EventContext(
            self.fabric,
            self.connectors,
            self.tcp,
            self.control,
            self.deliveries,
            self.streams,
            self.observation,
            self,
            self.log,
            self.mark_dirty,
        )
        self._dirty: set[int] = set()

    # --- lifecycle and configuration -------------------------------------------------------------

    def start(self, now: float) -> None:
        for listener in self.config.listeners.values():
            self._emit(cmd.Listen("amqp", listener.name, listener.host, listener.port))
        for connector in self.config.connectors.values():
            self.connectors.add(connector, now)
        self.advertising.sync(now)
        self._after(now)

    def apply_config(self, new: RouterConfig, now: float) -> None:
        """Apply a changed config; unchanged entities (and their traffic) are left alone."""
        old, self.config = self.config, new
        self.fabric.config = new
        self.tcp.apply_config(new)
        self.observation.reporter.apply_config(new, now)
        for dropped in self.connectors.apply_config(old, new, now):
            dropped.engine.connection.close()
            self.connection_down(dropped, "removed from the configuration", now)
        self.connectors.close_unwelcome(new)
        self.advertising.sync(now)
        self._after(now)

    # --- AMQP connections (driver -> core) -------------------------------------------------------

    def amqp_accepted(self, listener_name: str, peer_host: str, now: float) -> int | None:
        return self.connectors.accept(listener_name, peer_host, now)

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

    def amqp_output(self, conn_id: int) -> bytes:
        """Up to ``engine.OUTPUT_CHUNK`` bytes to write; fewer only when there are no more."""
        conn = self.connections.get(conn_id)
        if conn is None:
            return b""
        conn.transmit_pending = False
        output = conn.engine.take_output()
        if conn.engine.output_closed:
            # proton wrote its last frame (a close, or a protocol error): end the socket.
            self.connection_down(conn, conn.engine.error or "connection closed", self._now)
        return output

    # --- TCP (driver -> core) --------------------------------------------------------------------

    def tcp_accepted(self, listener_name: str, now: float) -> int | None:
        self._now = now  # the flow's start, as `flows` shows it
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

    def tcp_data(self, flow_id: int, data: bytes, now: float) -> None:
        self._now = now
        flow = self.tcp.flows.get(flow_id)
        if flow is not None:
            flow.socket_data(data)

    def tcp_eof(self, flow_id: int, now: float) -> None:
        self._now = now
        if (flow := self.tcp.flows.get(flow_id)) is not None:
            flow.socket_eof()
        self._after(now)

    def tcp_closed(self, flow_id: int, error: str, now: float) -> None:
        self._now = now
        if (flow := self.tcp.flows.get(flow_id)) is not None and not flow.closed:
            flow.socket_failed()
        self._after(now)

    def tcp_sent(self, flow_id: int, size: int) -> None:
        flow = self.tcp.flows.get(flow_id)
        if flow is not None:
            flow.socket_took(size)

    def tcp_write_paused(self, flow_id: int, paused: bool) -> None:
        flow = self.tcp.flows.get(flow_id)
        if flow is not None:
            flow.socket_write_paused(paused)

    # --- timers ----------------------------------------------------------------------------------

    def get_timer(self) -> float:
        """When handle_timer is next due (asked every loop turn, so it builds no lists)."""
        routing = self.fabric.routing
        due = self.observation.next_due()  # the records' rounds: always a deadline
        if routing is not None:
            due = min(due, routing.get_timer())
        for other in (self.tcp.next_due(), self.connectors.next_retry()):
            if other is not None and other < due:
                due = other
        for conn in self.connections.values():  # next_release only for the few that hold
            for other in (conn.tick_at or None, next_release(conn) if holds(conn) else None):
                if other is not None and other < due:
                    due = other
        return due

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self.fabric.routing is not None:
            self.fabric.routing.handle_timer(now)
        self.connectors.redial_due(now)
        self.tcp.handle_timer(now)
        self.observation.tick(now)
        for conn in list(self.connections.values()):
            if conn.tick_at and conn.tick_at <= now:
                conn.tick_at = conn.engine.tick(now) or 0.0
                self._process(conn, now)
            elif holds(conn):
                release_held(conn, now)
                self._dirty.add(conn.conn_id)
        self._after(now)

    def take_commands(self) -> list[cmd.Command]:
        self._transmit_dirty()  # asked as late as can be: what the driver did since counts
        commands, self._commands = self._commands, []
        return commands

    def _process(self, conn: RouterConnection, now: float) -> None:
        self._now = now
        amqp_events.process(self.events, conn, now)
        if holds(conn):
            release_held(conn, now)
        conn.tick_until_open(now)
        self._dirty.add(conn.conn_id)

    # --- addresses and TCP listeners -------------------------------------------------------------

    def edge_addresses_changed(self, now: float) -> None:
        """An attached edge or a client's subscription changed what is consumed here."""
        self.advertising.edges_changed(now)

    # --- router links: neighbours, edges, uplinks ------------------------------------------------

    def router_link_ready(self, conn: RouterConnection, now: float) -> None:
        """Control links up (interior), or an edge connection open (either side)."""
        self.observation.link_ready(conn, now)
        if conn.origin.role == "inter-router" and self.fabric.routing is not None:
            if self.fabric.neighbors.get(conn.peer_id) is not conn:
                self.fabric.neighbors[conn.peer_id] = conn
                self.fabric.routing.control_link_opened(conn.peer_id, conn.cost, now)
        elif conn.origin.role == "edge" and self.fabric.edge_mode and conn.dialled:
            if self.fabric.uplink is None:
                self._activate_uplink(conn)
        elif conn.origin.role == "edge" and not self.fabric.edge_mode and not conn.dialled:
            self.fabric.edge_connections[conn.peer_id] = conn
            self.edge_addresses_changed(now)

    def _activate_uplink(self, conn: RouterConnection) -> None:
        self.fabric.uplink = conn
        conn.attach_edge_uplink(self.fabric.router_id)
        self.advertising.sync_uplink()
        self.log("info", "edge", f"uplink to {conn.peer_id} active")

    def connection_down(self, conn: RouterConnection, error: str, now: float) -> None:
        if conn.closed:
            return
        conn.closed = True
        self.connections.pop(conn.conn_id, None)
        self._emit(cmd.CloseAmqp(conn.conn_id, conn.engine.take_output()))
        for stream in list(conn.active_streams):
            fail_stream(stream)
        conn.active_streams.clear()
        for address in conn.dynamic_addresses:
            self.fabric.endpoint_links.pop(address, None)
        if self.observation.connection_down(conn, error, now):
            self.advertising.sync(now)  # its subscriptions went away
        self.router_link_lost(conn, now)
        if conn.dialled:
            self.connectors.lost(conn, error, now)
        if conn.opened or conn.origin.role != "normal":
            peer = conn.peer_id or conn.peer_host
            self.log("info", "conn", f"connection {conn.conn_id} ({peer}) closed: {error}")

    def router_link_lost(self, conn: RouterConnection, now: float) -> None:
        if self.fabric.neighbors.get(conn.peer_id) is conn:
            del self.fabric.neighbors[conn.peer_id]
            if self.fabric.routing is not None:
                self.fabric.routing.control_link_lost(conn.peer_id, now)
        if self.fabric.edge_connections.get(conn.peer_id) is conn:
            del self.fabric.edge_connections[conn.peer_id]
            self.edge_addresses_changed(now)
        if self.fabric.uplink is conn:
            self.fabric.uplink = None
            self.fabric.addresses.uplink.clear()
            self.fabric.topology_version = -1
            for other in self.connections.values():
                if other.origin.role == "edge" and other.dialled and other.opened:
                    self._activate_uplink(other)
                    break

    # --- plumbing --------------------------------------------------------------------------------

    def _after(self, now: float) -> None:
        """What every entry point ends with: routing output, listeners, tracking."""
        if self.fabric.routing is not None:
            for conn in self.fabric.silent_neighbors():
                # its HELLOs stopped (a frozen host, a partition) but its TCP connection
                # stays open: close it, so its flows end and the connector redials
                conn.engine.connection.close()
                self.connection_down(conn, "no HELLO from the neighbour", now)
            for command in self.fabric.routing.pending_commands():
                control.send_control(self.control, command)
            version = self.fabric.routing.topology_version
        else:
            version = 0
        if version != self.fabric.topology_version:
            self.fabric.topology_version = version
            for change in self.fabric.route_changes():
                self.log("info", "route", change)
            self.tcp.evaluate_listeners()
            control.send_tracking_updates(self.control)

    def _transmit_dirty(self) -> None:
        for conn_id in self._dirty:
            conn = self.connections.get(conn_id)
            if conn is None or conn.transmit_pending:
                continue
            # proton asked once the driver takes the commands: a connection that only
            # received (as a message's way in) costs no command and no empty write, and
            # a flow's first bytes read just after its accept join the header's transfer
            if size := conn.engine.pending():
                conn.transmit_pending = True
                self._commands.append(cmd.TransmitAmqp(conn_id, size))
        self._dirty.clear()

    def consumers_changed(self) -> None:
        """A connector left or rejoined the rotation."""
        self.advertising.sync(self._now)

    def _emit(self, command: cmd.Command) -> None:
        self._commands.append(command)

    def log(self, level: LogLevel, module: str, text: str) -> None:
        self._commands.append(cmd.Log(level, module, text))

    def mark_dirty(self, conn_id: int) -> None:
        self._dirty.add(conn_id)
