"""An in-memory network of router cores: the socket-free harness of ``test_core.py``.

``CoreNet`` plays the asyncio driver (``skupper_podman/router/driver.py``) for several
``RouterCore`` instances at once. It executes their commands in order, carries AMQP bytes
between the two connection ids of each in-memory connection, keeps fake TCP sockets whose
fate the test decides (a backend dial waits until the test accepts or refuses it), and owns
a fake clock that only moves when the test advances it, step by step, in bounded loops
(h11's ``ConnectionPair``, aioquic's ``roundtrip_until_done``). Proton's TLS and SASL run
for real inside each engine, with real certificates; only the sockets are fake.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from skupper_podman import certs
from skupper_podman.router import commands as cmd
from skupper_podman.router.config import RouterConfig
from skupper_podman.router.config_file import parse_config
from skupper_podman.router.core import RouterCore
from skupper_podman.router.engine import AmqpEngine
from skupper_podman.router.routing import LinkStateRouter
from tests.router.server_side import add_link_listeners

START = 1_000.0
STEP = 0.05
MAX_ROUNDS = 10_000  # pump rounds before the network is declared never quiet
HOST = "127.0.0.1"

C = TypeVar("C", bound=cmd.Command)


@dataclass
class FakeSocket:
    """One TCP socket at the edge of the network, as the router's commands left it."""

    router: str
    flow_id: int
    received: bytearray = field(default_factory=bytearray)  # all SendTcp data, in order
    shutdown: bool = False  # the router half-closed it (ShutdownTcp): a FIN was sent
    closed: bool = False
    aborted: bool = False
    reading: bool = True  # False while the router paused reading it (PauseTcp)
    pauses: int = 0
    resumes: int = 0


@dataclass
class Router:
    """One router of the network: its config entities, its core and what it did."""

    name: str
    folder: Path
    entities: list[list[Any]]
    inter_router_port: int = 0
    core: RouterCore = field(init=False)
    history: list[cmd.Command] = field(default_factory=list)  # all but TransmitAmqp
    listening: dict[tuple[str, str], cmd.Listen] = field(default_factory=dict)
    sockets: dict[int, FakeSocket] = field(default_factory=dict)
    dials: dict[int, cmd.OpenTcp] = field(default_factory=dict)  # backends not yet answered
    _cursor: int = 0

    @property
    def routing(self) -> LinkStateRouter:
        """The interior router's routing protocol state."""
        assert self.core.fabric.routing is not None, f"{self.name} is not an interior router"
        return self.core.fabric.routing

    def add(self, kind: str, **attributes: Any) -> None:
        self.entities.append([kind, attributes])

    def remove(self, kind: str, name: str) -> None:
        self.entities = [e for e in self.entities if not (e[0] == kind and e[1]["name"] == name)]

    def config(self) -> RouterConfig:
        return parse_config(self.entities, base_dir=self.folder)

    def take(self, *types: type[C]) -> list[C]:
        """The commands (of these types, or all) executed since the last ``take``."""
        new, self._cursor = self.history[self._cursor :], len(self.history)
        return [c for c in new if not types or isinstance(c, types)]  # type: ignore[misc]

    def of_kind(self, kind: type[C]) -> list[C]:
        """Every command of one type this router gave, in order."""
        return [c for c in self.history if isinstance(c, kind)]

    def of_flow(self, flow_id: int) -> list[cmd.Command]:
        """Every TCP command this router gave for one flow, in order."""
        return [c for c in self.history if getattr(c, "flow_id", None) == flow_id]

    def kinds_of_flow(self, flow_id: int) -> list[str]:
        """The flow's commands by name, with repeated SendTcp collapsed into one."""
        names: list[str] = []
        for command in self.of_flow(flow_id):
            name = type(command).__name__
            if isinstance(command, cmd.CloseTcp):
                name += "(abort)" if command.abort else "(clean)"
            if not (names and name == "SendTcp" and names[-1] == name):
                names.append(name)
        return names


@dataclass(frozen=True)
class RouterEnd:
    """One end of an in-memory AMQP connection: a router and its connection id."""

    router: str
    conn_id: int


class AmqpClient:
    """A plain AMQP client (a management tool, say) with a proton engine of its own."""

    def __init__(self, engine: AmqpEngine) -> None:
        self.engine = engine
        self.lost = False


End = RouterEnd | AmqpClient


class CoreNet:
    """Router cores joined by in-memory connections, with one fake clock."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.now = START
        self.ca = certs.new_ca("core-test-ca")
        self.routers: dict[str, Router] = {}
        self.amqp_ports: dict[tuple[str, int], tuple[str, str]] = {}  # -> router, listener
        self.wires: dict[End, End] = {}
        self._queue: deque[Callable[[], None]] = deque()  # socket events, in order
        self._ports = iter(range(45_671, 65_000))

    # --- building the network ----------------------------------------------------------------

    def router(self, name: str, *, link_access: bool = False) -> Router:
        """A router; with link_access, an inter-router listener with mutual TLS."""
        folder = self.folder / name
        folder.mkdir(parents=True)
        router = Router(name, folder, [["router", {"id": name, "mode": "interior"}]])
        if link_access:
            router.inter_router_port = next(self._ports)
            ports = {"inter-router": router.inter_router_port}
            add_link_listeners(router.add, folder, self.ca, name, HOST, ports)
        self.routers[name] = router
        return router

    def link(self, source: Router, target: Router) -> None:
        """Give ``source`` a connector (with a client certificate) to ``target``'s listener."""
        client = certs.issue_client_cert(self.ca, f"{source.name}-to-{target.name}")
        folder = f"link-{target.name}"
        certs.write_credential(source.folder / folder, client.files())
        source.add(
            "sslProfile",
            name=folder,
            caCertFile=f"{folder}/ca.crt",
            certFile=f"{folder}/tls.crt",
            privateKeyFile=f"{folder}/tls.key",
        )
        source.add(
            "connector",
            name=folder,
            host=HOST,
            port=target.inter_router_port,
            role="inter-router",
            sslProfile=folder,
            saslMechanisms="EXTERNAL",
        )

    def start(self) -> None:
        """Start every core, those with an inter-router listener first (so dials find it)."""
        order = sorted(self.routers.values(), key=lambda r: not r.inter_router_port)
        for instance, router in enumerate(order, start=1):
            router.core = RouterCore(router.config(), now=self.now, instance=instance)
            router.core.start(self.now)
        self.pump()

    def reload(self, router: Router) -> None:
        """What SIGHUP does: the router applies its rewritten config."""
        router.core.apply_config(router.config(), self.now)
        self.pump()

    # --- the driver's half: executing commands and moving bytes -------------------------------

    def pump(self) -> None:
        """Execute commands and deliver bytes until every router and client is quiet."""
        for _ in range(MAX_ROUNDS):
            busy = False
            for router in self.routers.values():
                commands = router.core.take_commands()
                busy = busy or bool(commands)
                for command in commands:
                    self._execute(router, command)
            for end in list(self.wires):
                if isinstance(end, AmqpClient):
                    self._transmit(end)
            while self._queue:
                busy = True
                self._queue.popleft()()
            if not busy:
                return
        raise AssertionError(f"the network was not quiet after {MAX_ROUNDS} rounds")

    def _execute(self, router: Router, command: cmd.Command) -> None:
        if isinstance(command, cmd.TransmitAmqp):
            self._transmit(RouterEnd(router.name, command.conn_id))
            return
        router.history.append(command)
        handler = _EXECUTORS.get(type(command))
        if handler is not None:
            handler(self, router, command)

    def _listen(self, router: Router, command: cmd.Listen) -> None:
        router.listening[(command.kind, command.name)] = command
        if command.kind == "amqp":
            self.amqp_ports[(command.host, command.port)] = (router.name, command.name)

    def _stop_listening(self, router: Router, command: cmd.StopListening) -> None:
        listen = router.listening.pop((command.kind, command.name), None)
        if listen is not None and command.kind == "amqp":
            self.amqp_ports.pop((listen.host, listen.port), None)

    def _connect_amqp(self, router: Router, command: cmd.ConnectAmqp) -> None:
        dialler = RouterEnd(router.name, command.conn_id)
        target = self.amqp_ports.get((command.host, command.port))
        if target is None:
            refused = partial(router.core.amqp_closed, command.conn_id, "Connection refused")
            self._queue.append(lambda: refused(self.now))
            return
        server = self.routers[target[0]]
        accepted = server.core.amqp_accepted(target[1], HOST, self.now)
        assert accepted is not None, f"{server.name} refused a connection on {target[1]}"
        self._join(dialler, RouterEnd(server.name, accepted))

    def _join(self, dialler: End, acceptor: End) -> None:
        """Both sockets are connected: tell both sides, and let each transmit (as the driver)."""
        self.wires[dialler] = acceptor
        self.wires[acceptor] = dialler
        for end in (acceptor, dialler):
            if isinstance(end, RouterEnd):
                self.routers[end.router].core.amqp_connected(end.conn_id, self.now)
            self._transmit(end)

    def _transmit(self, end: End) -> None:
        peer = self.wires.get(end)
        if peer is None:
            return  # not connected yet (or gone): the driver has no socket to write to
        while data := self._output(end):
            self._queue.append(partial(self._deliver, peer, data))

    def _output(self, end: End) -> bytes:
        if isinstance(end, AmqpClient):
            return end.engine.take_output()
        return self.routers[end.router].core.amqp_output(end.conn_id)

    def _deliver(self, end: End, data: bytes) -> None:
        if end not in self.wires:
            return  # the connection closed while the bytes were in flight
        if isinstance(end, AmqpClient):
            end.engine.push(data)
        else:
            self.routers[end.router].core.amqp_data(end.conn_id, data, self.now)

    def _close_amqp(self, router: Router, command: cmd.CloseAmqp) -> None:
        """Write the final bytes and close: the peer reads them, then sees the socket go."""
        peer = self.wires.pop(RouterEnd(router.name, command.conn_id), None)
        if peer is None:
            return
        if command.final:
            self._queue.append(partial(self._deliver, peer, command.final))
        self._queue.append(partial(self._lose, peer, "connection closed by peer"))

    def _lose(self, end: End, error: str) -> None:
        """The socket under ``end`` is gone, as the driver's connection_lost reports it."""
        if self.wires.pop(end, None) is None:
            return
        if isinstance(end, AmqpClient):
            end.lost = True
            end.engine.close_input()
        else:
            self.routers[end.router].core.amqp_closed(end.conn_id, error, self.now)

    def _open_tcp(self, router: Router, command: cmd.OpenTcp) -> None:
        router.dials[command.flow_id] = command

    def _send_tcp(self, router: Router, command: cmd.SendTcp) -> None:
        sock = router.sockets.get(command.flow_id)
        assert sock is not None and not sock.closed, f"SendTcp to flow {command.flow_id}: no socket"
        assert not sock.shutdown, f"SendTcp to flow {command.flow_id} after ShutdownTcp"
        sock.received += command.data
        router.core.tcp_sent(command.flow_id, len(command.data))  # as the driver reports it

    def _shutdown_tcp(self, router: Router, command: cmd.ShutdownTcp) -> None:
        sock = router.sockets.get(command.flow_id)
        if sock is not None:
            sock.shutdown = True

    def _close_tcp(self, router: Router, command: cmd.CloseTcp) -> None:
        router.dials.pop(command.flow_id, None)  # a dial in progress is cancelled
        sock = router.sockets.get(command.flow_id)
        if sock is not None:
            sock.closed = True
            sock.aborted = command.abort

    def _pause_tcp(self, router: Router, command: cmd.PauseTcp) -> None:
        sock = router.sockets[command.flow_id]
        sock.reading = False
        sock.pauses += 1

    def _resume_tcp(self, router: Router, command: cmd.ResumeTcp) -> None:
        sock = router.sockets[command.flow_id]
        sock.reading = True
        sock.resumes += 1

    # --- the test's half: what clients, backends and cables do --------------------------------

    def connect_client(self, router: Router, listener: str) -> FakeSocket:
        """A client connects to an open tcpListener."""
        assert ("tcp", listener) in router.listening, f"{router.name}: {listener} is not open"
        flow_id = router.core.tcp_accepted(listener, self.now)
        assert flow_id is not None, f"{router.name} refused a client on {listener}"
        sock = router.sockets[flow_id] = FakeSocket(router.name, flow_id)
        self.pump()
        return sock

    def dial(self, router: Router) -> cmd.OpenTcp:
        """The one backend dial the router is waiting on."""
        assert len(router.dials) == 1, f"{router.name} dials: {list(router.dials.values())}"
        return next(iter(router.dials.values()))

    def accept(self, router: Router, flow_id: int) -> FakeSocket:
        """The backend answers the router's dial."""
        del router.dials[flow_id]
        sock = router.sockets[flow_id] = FakeSocket(router.name, flow_id)
        router.core.tcp_connected(flow_id, self.now)
        self.pump()
        return sock

    def refuse(self, router: Router, flow_id: int) -> None:
        del router.dials[flow_id]
        router.core.tcp_connect_failed(flow_id, "Connection refused", self.now)
        self.pump()

    def send(self, sock: FakeSocket, data: bytes) -> None:
        """Bytes read from the socket (a client or backend wrote them)."""
        assert sock.reading, f"flow {sock.flow_id} is paused: the driver would not read it"
        self.routers[sock.router].core.tcp_data(sock.flow_id, data, self.now)
        self.pump()

    def eof(self, sock: FakeSocket) -> None:
        """The far end of the socket half-closed it (its FIN was read)."""
        self.routers[sock.router].core.tcp_eof(sock.flow_id, self.now)
        self.pump()

    def reset(self, sock: FakeSocket) -> None:
        """The socket failed (the far end reset it)."""
        self.routers[sock.router].core.tcp_closed(
            sock.flow_id, "Connection reset by peer", self.now
        )
        self.pump()

    def write_paused(self, sock: FakeSocket, paused: bool) -> None:
        """The socket's write buffer crossed its high (True) or low (False) water mark."""
        self.routers[sock.router].core.tcp_write_paused(sock.flow_id, paused)
        self.pump()

    def connect_client_amqp(self, router: Router, listener: str, engine: AmqpEngine) -> AmqpClient:
        """A plain AMQP client connects to one of the router's amqp listeners."""
        assert ("amqp", listener) in router.listening, f"{router.name}: {listener} is not open"
        accepted = router.core.amqp_accepted(listener, HOST, self.now)
        assert accepted is not None
        client = AmqpClient(engine)
        self._join(client, RouterEnd(router.name, accepted))
        self.pump()
        return client

    def wires_between(self, a: Router, b: Router) -> list[tuple[RouterEnd, RouterEnd]]:
        pairs = []
        for end, peer in self.wires.items():
            if (
                isinstance(end, RouterEnd)
                and isinstance(peer, RouterEnd)
                and (end.router, peer.router) == (a.name, b.name)
            ):
                pairs.append((end, peer))
        return pairs

    def cut(self, a: Router, b: Router) -> None:
        """The cable between a and b is cut: both ends see their socket fail at once."""
        pairs = self.wires_between(a, b)
        assert pairs, f"{a.name} and {b.name} are not connected"
        for end, peer in pairs:
            self._queue.append(partial(self._lose, end, "connection reset"))
            self._queue.append(partial(self._lose, peer, "connection reset"))
        self.pump()

    # --- time --------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.run_until(lambda: False, within=seconds, must=False)

    def run_until(self, done: Callable[[], bool], *, within: float, must: bool = True) -> float:
        """Step the fake clock until done() holds; returns the time it took."""
        start = self.now
        for _ in range(round(within / STEP)):
            if done():
                return self.now - start
            self.now = round(self.now + STEP, 6)
            self._fire_timers()
            self.pump()
        if must and not done():
            raise AssertionError(f"not done within {within} s")
        return self.now - start

    def _fire_timers(self) -> None:
        for router in self.routers.values():
            if router.core.get_timer() <= self.now:
                router.core.handle_timer(self.now)
        for end in list(self.wires):
            if isinstance(end, AmqpClient):
                end.engine.tick(self.now)


_Executor = Callable[[CoreNet, Router, Any], None]
_EXECUTORS: dict[type, _Executor] = {
    cmd.Listen: CoreNet._listen,
    cmd.StopListening: CoreNet._stop_listening,
    cmd.ConnectAmqp: CoreNet._connect_amqp,
    cmd.CloseAmqp: CoreNet._close_amqp,
    cmd.OpenTcp: CoreNet._open_tcp,
    cmd.SendTcp: CoreNet._send_tcp,
    cmd.ShutdownTcp: CoreNet._shutdown_tcp,
    cmd.CloseTcp: CoreNet._close_tcp,
    cmd.PauseTcp: CoreNet._pause_tcp,
    cmd.ResumeTcp: CoreNet._resume_tcp,
}
