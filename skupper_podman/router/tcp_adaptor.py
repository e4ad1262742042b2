"""The TCP side of the router: tcpListeners that listen while their key is reachable,
tcpConnectors and the health of their backends, and the flows between them.

It takes what it calls of the network as ``Routes`` (where a key goes: the fabric) and a
``StreamStarter`` (streams to other routers), never the whole core; the core's driver
doors call it and then do the work that follows every event.

Failover, beyond skupper-router (which ends the client's connection when the connector it
picked cannot reach its backend): at that point no byte has reached any backend, so the
flow moves. The connector's router redials at its other connectors for the key, and once
none is left gives the request back undeliverable here (AMQP modified: not processed, may
go elsewhere); the listener's router sends the flow again with what the client sent so far
(at most ``tcp.REPLAY_LIMIT``) to another destination (``flow_resend``). A connector whose
backend failed leaves the rotation (``backend_health``) and is probed with back-off; while
none of a router's connectors for a key is up, the router stops offering the key. The
client is closed cleanly only when no destination is left.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable
from typing import Protocol

from . import commands as cmd
from . import listener_keys
from .addressing import AddressTable, Destination
from .backend_health import BackendHealth
from .config import RouterConfig
from .connection import RouterConnection
from .flow_records import RECENT_FLOWS, FlowRecord
from .flow_resend import Destinations, FlowResender, ResendCount, StreamOpener
from .local_streams import LocalStream
from .message import encode_stream_header
from .service_tls import ServiceTls
from .sockets import OUT_OF_FILES
from .streams import OutboundStream, StreamOwner
from .tcp import FlowObserver, TcpCounters, TcpFlow

Log = Callable[[cmd.LogLevel, str, str], None]


class Routes(Destinations, Protocol):
    """Where the TCP side's flows can go (the router's fabric)."""

    def route_to_address(self, address: str) -> tuple[RouterConnection, str] | None: ...


class StreamStarter(StreamOpener, Protocol):
    """How the TCP side starts its streams."""

    def stream_on(
        self, conn: RouterConnection, header: bytes, owner: StreamOwner
    ) -> OutboundStream: ...


class Deliveries(ResendCount, Protocol):
    ingress: int
    egress: int


class TcpAdaptor:
    def __init__(
        self,
        config: RouterConfig,
        routes: Routes,
        streams: StreamStarter,
        addresses: AddressTable,
        deliveries: Deliveries,
        emit: Callable[[cmd.Command], None],
        log: Log,
        *,
        consumers_changed: Callable[[], None],
        rng: random.Random,
        observer: FlowObserver,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.config = config
        self.observer = observer
        self.routes = routes
        self.streams = streams
        self.addresses = addresses
        self.deliveries = deliveries
        self.emit = emit
        self.log = log
        self.rng = rng
        # the local connectors in rotation changed: the keys are advertised again
        self.consumers_changed = consumers_changed
        self.health = BackendHealth()
        self.flows: dict[int, TcpFlow] = {}
        self.reply_flows: dict[str, TcpFlow] = {}
        self.counters: dict[tuple[str, str], TcpCounters] = {}
        self.listening: set[str] = set()
        self._flow_ids = itertools.count(1)
        self._clock = clock
        self.recent: deque[FlowRecord] = deque(maxlen=RECENT_FLOWS)  # ended, for `flows`
        self.resender = FlowResender(
            routes,
            streams,
            addresses,
            deliveries,
            self.reply_flows,
            emit,
            clock,
            start_local_flow=self.start_local_flow,
        )

    def apply_config(self, new: RouterConfig) -> None:
        """Stop the tcpListeners ``new`` changed (or whose TLS files it changed); they
        listen again, as configured now, once their key is reachable."""
        old, self.config = self.config, new
        for name, listener in old.tcp_listeners.items():
            profile = listener.sslProfile
            changed = new.tcp_listeners.get(name) != listener or (
                profile and old.ssl_profiles.get(profile) != new.ssl_profiles.get(profile)
            )
            if changed:
                self.stop_listening(name)

    # --- listeners -------------------------------------------------------------------------

    def accepted(self, listener_name: str) -> int | None:
        """A client connected to a tcpListener: its flow id, None to refuse it."""
        listener = self.config.tcp_listeners.get(listener_name)
        if listener is None:
            return None
        addresses = self.config.listener_addresses.get(listener_name, ())
        # One destination choice per key looked at: the key's reachability is whether it
        # has a destination, and a second choice would take the next turn among equals
        # (every second flow of a row of short ones went to the same connector).
        destinations: dict[str, Destination | None] = {}

        def reachable(key: str) -> bool:
            destinations[key] = self.routes.choose_destination(key)
            return destinations[key] is not None

        address = listener_keys.choose(listener, addresses, reachable, self.rng)
        destination = destinations.get(address) if address is not None else None
        if address is None or destination is None:
            return None
        flow = self._new_flow("listener", listener.name, destination, socket_ready=True)
        flow.address = address
        flow.record_id = self.observer.flow_started(flow, self._clock())
        flow.watcher = self.observer.watch(flow, listener.observer, self._clock)
        if not self.resender.open_request(flow, destination):
            flow.socket_failed()
            return None
        return flow.flow_id

    def handshake_failed(self, listener: str, error: str) -> None:
        self.log("warning", "tcp", f"listener {listener}: client refused: {error}")
        self.counters.setdefault(("listener", listener), TcpCounters()).failure(error)

    def evaluate_listeners(self) -> None:
        """A tcpListener listens only while its address has a consumer somewhere."""
        for name, listener in self.config.tcp_listeners.items():
            addresses = self.config.listener_addresses.get(name, ())
            keys = listener_keys.keys(listener, addresses)
            reachable = any(self.routes.reachable(key) for key in keys)
            if reachable and name not in self.listening:
                self.listening.add(name)
                tls = self._service_tls(listener.sslProfile, strict=listener.authenticatePeer)
                self.emit(cmd.Listen("tcp", name, listener.host, listener.port, tls))
            elif not reachable and name in self.listening:
                self.stop_listening(name)
        for name in list(self.listening):
            if name not in self.config.tcp_listeners:
                self.stop_listening(name)

    def produced_keys(self) -> set[str]:
        """The keys this router's listeners send to (an edge tells its interior)."""
        return {
            key
            for name, listener in self.config.tcp_listeners.items()
            for key in listener_keys.keys(listener, self.config.listener_addresses.get(name, ()))
        }

    def stop_listening(self, name: str) -> None:
        if name in self.listening:
            self.listening.discard(name)
            self.emit(cmd.StopListening("tcp", name))

    # --- connectors ------------------------------------------------------------------------

    def in_rotation(self) -> list[tuple[str, str]]:
        """(name, routing key) of the connectors whose backends answer."""
        connectors = self.config.tcp_connectors.values()
        self.health.sync(c.name for c in connectors)
        return [(c.name, c.address) for c in connectors if self.health.is_up(c.name)]

    def start_connector_flow(
        self, connector_name: str, reply_to: str, record_id: str = ""
    ) -> TcpFlow:
        """A flow that arrived for a local tcpConnector: dial its backend. ``record_id``:
        the request's correlation-id, its flow record's name."""
        destination = Destination("local", connector_name)
        flow = self._new_flow("connector", connector_name, destination, socket_ready=False)
        flow.address = self.config.tcp_connectors[connector_name].address
        flow.reply_address = reply_to
        self.observer.connector_flow_started(flow, record_id)
        self.dial_backend(flow, connector_name)
        return flow

    def dial_backend(self, flow: TcpFlow, connector_name: str) -> None:
        connector = self.config.tcp_connectors[connector_name]
        tls = self._service_tls(connector.sslProfile, strict=connector.verifyHostname)
        self.emit(cmd.OpenTcp(flow.flow_id, connector.host, connector.port, tls))

    def start_local_flow(self, flow: TcpFlow, connector_name: str) -> None:
        request = LocalStream(flow)
        flow.outbound = request
        local = f"local:{flow.flow_id}"
        peer = self.start_connector_flow(connector_name, local, flow.record_id or "")
        self.addresses.flow_ended(Destination("local", connector_name))  # counted once
        peer.route_key = None
        peer.inbound = request
        request.attach(peer)

    def connected(self, flow_id: int, now: float) -> None:
        """The backend answered a connector flow's dial: the reply stream starts."""
        flow = self.flows.get(flow_id)
        if flow is None:
            return
        if isinstance(flow.route_key, Destination):
            self.backend_answered(flow.route_key.name)
        reply_to = flow.reply_address
        if reply_to.startswith("local:"):
            listener_flow = self.flows.get(int(reply_to.removeprefix("local:")))
            reply = LocalStream(flow)
            flow.socket_connected(reply)
            if listener_flow is not None:
                listener_flow.inbound = reply
                reply.attach(listener_flow)
            return
        route = self.routes.route_to_address(reply_to)
        if route is None:
            flow.socket_failed()
        else:
            header = encode_stream_header(to=reply_to, reply_to=None)
            flow.socket_connected(self.streams.stream_on(route[0], header, flow))

    def connect_failed(self, flow_id: int, error: str, now: float) -> None:
        flow = self.flows.get(flow_id)
        if flow is None:
            return
        self.log("warning", "tcp", f"flow {flow_id}: backend connection failed: {error}")
        flow.counters.failure(error)
        if flow.side == "connector":
            self._redial_or_release(flow, error, now)
        else:
            flow.socket_failed()

    def _redial_or_release(self, flow: TcpFlow, error: str, now: float) -> None:
        """The dial failed before any byte reached the backend: another connector of the
        key on this router takes the flow, else it goes back RELEASED."""
        name = flow.route_key.name if isinstance(flow.route_key, Destination) else ""
        if name and error != OUT_OF_FILES and self.health.failed(name, error, now):
            self.log("warning", "tcp", f"connector {name}: backend out of rotation: {error}")
            self.consumers_changed()
        flow.tried.add(name)
        connector = self.config.tcp_connectors.get(name)
        key = connector.address if connector else ""
        others = [other for other in self.addresses.local.get(key, ()) if other not in flow.tried]
        if not others:
            flow.give_back()
            return
        self.addresses.flow_ended(Destination("local", name))
        flow.route_key = Destination("local", others[0])
        flow.via = others[0]
        self.addresses.flow_started(flow.route_key)
        flow.move_to(self.counters.setdefault(("connector", others[0]), TcpCounters()))
        self.deliveries.retried += 1
        self.dial_backend(flow, others[0])

    def backend_answered(self, name: str) -> None:
        if self.health.answered(name):
            self.log("info", "tcp", f"connector {name}: backend answers, back in rotation")
            self.consumers_changed()

    def next_due(self) -> float | None:
        """When the next backend probe or flow sent again is due."""
        probe, resend = self.health.next_probe(), self.resender.next_due()
        if probe is None or resend is None:
            return resend if probe is None else probe
        return min(probe, resend)

    def handle_timer(self, now: float) -> None:
        self.resender.send_due(now)
        for name in self.health.due_probes(now):
            connector = self.config.tcp_connectors.get(name)
            if connector is not None:
                self.emit(cmd.ProbeTcp(name, connector.host, connector.port))

    def probed(self, name: str, error: str, now: float) -> None:
        """A probe of a backend out of rotation ended (``error`` empty: it answered)."""
        if error:
            self.health.probe_failed(name, error, now)
        else:
            self.backend_answered(name)

    # --- flows -----------------------------------------------------------------------------

    def _new_flow(
        self, kind: str, name: str, destination: Destination, *, socket_ready: bool
    ) -> TcpFlow:
        flow_id = next(self._flow_ids)
        counters = self.counters.setdefault((kind, name), TcpCounters())
        flow = TcpFlow(
            flow_id,
            self.emit,
            counters,
            self._flow_closed,
            on_released=self.resender.given_back,
            socket_ready=socket_ready,
            side=kind,
            clock=self._clock,
        )
        flow.via = name
        flow.route_key = destination
        if kind == "listener":
            self.deliveries.ingress += 1
        else:
            self.deliveries.egress += 1
        self.addresses.flow_started(destination)
        self.flows[flow_id] = flow
        return flow

    def _flow_closed(self, flow: TcpFlow) -> None:
        if self.flows.pop(flow.flow_id, None) is not None:
            self.recent.append(FlowRecord.of(flow, ended_at=self._clock()))
            self.observer.flow_ended(flow, self._clock())
        self.reply_flows.pop(flow.reply_address, None)
        if isinstance(flow.route_key, Destination):
            self.addresses.flow_ended(flow.route_key)

    def _service_tls(self, profile_name: str, *, strict: bool) -> ServiceTls | None:
        if not profile_name:
            return None
        return ServiceTls(self.config.ssl_profiles[profile_name], strict=strict)
