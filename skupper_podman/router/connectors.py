"""The router's AMQP connections as they begin and end by config: dialling a connector
(and backing off when it fails), accepting on a listener, refusing a peer.

It makes each ``RouterConnection`` and puts it in the shared table the core reads; what
happens on the connection afterwards (links, routing) is the core's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from proton import Condition

from . import VERSION
from . import commands as cmd
from .config import AmqpConnector, RouterConfig
from .connection import ConnectionOrigin, RouterConnection
from .engine import AmqpEngine, TlsDomains, TlsSettings

# Redial soon after a failure (a peer restarting is back within a second or two), then
# back off to a bounded pace: a peer that comes back is found within 2 s.
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
ConnectorStatus = Literal["CONNECTING", "SUCCESS", "FAILED"]
Log = Callable[[cmd.LogLevel, str, str], None]


@dataclass
class ConnectorState:
    config: AmqpConnector
    conn_id: int | None = None
    status: ConnectorStatus = "CONNECTING"
    message: str = ""
    failures: int = 0
    retry_at: float | None = None


class AmqpConnectors:
    """Connectors by name, and the connections listeners accept."""

    def __init__(
        self,
        router_id: str,
        config: RouterConfig,
        connections: dict[int, RouterConnection],
        *,
        emit: Callable[[cmd.Command], None],
        log: Log,
        mark_dirty: Callable[[int], None],
    ) -> None:
        self.router_id = router_id
        self.config = config
        self.connections = connections
        self.states: dict[str, ConnectorState] = {}
        self._emit = emit
        self._log = log
        self._mark_dirty = mark_dirty
        self._conn_ids = itertools.count(1)
        self._tls = TlsDomains()

    def apply_config(
        self, old: RouterConfig, new: RouterConfig, now: float
    ) -> list[RouterConnection]:
        """Listen and dial as ``new`` says where it differs from ``old``; the connections of
        connectors it removed or changed, for the caller to close."""
        self.config = new
        for name, listener in old.listeners.items():
            if new.listeners.get(name) != listener:
                self._emit(cmd.StopListening("amqp", name))
        for name, listener in new.listeners.items():
            if old.listeners.get(name) != listener:
                self._emit(cmd.Listen("amqp", name, listener.host, listener.port))
        dropped = []
        for name, connector in old.connectors.items():
            if new.connectors.get(name) != connector:
                conn = self.remove(name)
                if conn is not None:
                    dropped.append(conn)
        for name, connector in new.connectors.items():
            if old.connectors.get(name) != connector:
                self.add(connector, now)
        return dropped

    # --- connectors ------------------------------------------------------------------------

    def add(self, connector: AmqpConnector, now: float) -> None:
        state = ConnectorState(connector)
        self.states[connector.name] = state
        self._dial(state, now)

    def remove(self, name: str) -> RouterConnection | None:
        """Forget connector ``name``; its open connection, if any, for the caller to close."""
        state = self.states.pop(name, None)
        if state is None or state.conn_id is None:
            return None
        return self.connections.get(state.conn_id)

    def next_retry(self) -> float | None:
        retries = [s.retry_at for s in self.states.values() if s.retry_at is not None]
        return min(retries) if retries else None

    def redial_due(self, now: float) -> None:
        for state in list(self.states.values()):
            if state.retry_at is not None and state.retry_at <= now:
                self._dial(state, now)

    def opened(self, conn: RouterConnection) -> None:
        state = self.states.get(conn.origin.name)
        if state is not None:
            state.status, state.message, state.failures = "SUCCESS", "", 0

    def lost(self, conn: RouterConnection, error: str, now: float) -> None:
        """A dialled connection ended: its connector tries again after its back-off."""
        state = self.states.get(conn.origin.name)
        if state is not None and state.conn_id == conn.conn_id:
            self._failed(state, error or "connection closed", now)

    def _dial(self, state: ConnectorState, now: float) -> None:
        connector = state.config
        try:
            domain = None
            if connector.sslProfile:
                profile = self.config.ssl_profiles[connector.sslProfile]
                tls = TlsSettings(profile, verify_hostname=connector.verifyHostname)
                domain = self._tls.get(tls, server=False)
            engine = AmqpEngine(
                server=False,
                ssl_domain=domain,
                sasl_mechanisms=connector.saslMechanisms,
                peer_hostname=connector.host,
                max_frame_size=connector.maxFrameSize,
                idle_timeout=connector.idleTimeoutSeconds,
            )
        except Exception as e:  # proton reports unreadable certificates this way
            self._failed(state, f"TLS setup failed: {e}", now)
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
        self._emit(cmd.ConnectAmqp(conn_id, connector.host, connector.port, connector.proxy))

    def _failed(self, state: ConnectorState, message: str, now: float) -> None:
        state.conn_id = None
        state.status = "FAILED"
        state.message = message
        state.retry_at = now + RECONNECT_DELAYS[min(state.failures, len(RECONNECT_DELAYS) - 1)]
        state.failures += 1
        self._log("warning", "connector", f"{state.config.name}: {message}")

    # --- listeners -------------------------------------------------------------------------

    def accept(self, listener_name: str, peer_host: str, now: float) -> int | None:
        listener = self.config.listeners.get(listener_name)
        if listener is None:
            return None
        try:
            domain = None
            if listener.sslProfile:
                profile = self.config.ssl_profiles[listener.sslProfile]
                tls = TlsSettings(profile, require_peer_certificate=listener.authenticatePeer)
                domain = self._tls.get(tls, server=True)
            engine = AmqpEngine(
                server=True,
                ssl_domain=domain,
                sasl_mechanisms=listener.saslMechanisms or "ANONYMOUS",
                max_frame_size=listener.maxFrameSize,
                idle_timeout=listener.idleTimeoutSeconds,
            )
        except Exception as e:  # proton reports unreadable certificates this way
            self._log("warning", "conn", f"listener {listener_name}: TLS setup failed: {e}")
            return None  # the driver closes the socket
        conn_id = next(self._conn_ids)
        origin = ConnectionOrigin("listener", listener.name, listener.role, listener.cost, "")
        self.connections[conn_id] = RouterConnection(
            conn_id, engine, origin, peer_host=peer_host, created_at=now
        )
        return conn_id

    def close_unwelcome(self, config: RouterConfig) -> None:
        """After a reload: close the accepted connections ``config`` no longer lets in (a
        revoked certificate, or a link access that was removed)."""
        for conn in list(self.connections.values()):
            if conn.dialled:
                continue
            if conn.engine.peer_fingerprint in config.revoked:
                self.refuse(conn, "amqp:unauthorized-access", "certificate revoked")
            elif conn.origin.name not in config.listeners and conn.origin.role != "normal":
                self.refuse(conn, "amqp:connection:forced", "link access removed from this site")

    def refuse(self, conn: RouterConnection, condition: str, text: str) -> None:
        """Close an AMQP connection with an error the peer sees (e.g. a revoked identity)."""
        conn.refused = True
        connection = conn.engine.connection
        connection.condition = Condition(condition, text)
        if connection.state & connection.LOCAL_UNINIT:
            connection.container = self.router_id
            connection.open()
        connection.close()
        self._log(
            "warning",
            "conn",
            f"connection {conn.conn_id} from {conn.peer_host} "
            f"({conn.engine.peer_subject}) refused: {text}",
        )
        self._mark_dirty(conn.conn_id)
