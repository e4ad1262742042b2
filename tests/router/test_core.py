"""Tests of the sans-I/O router core (skupper_podman.router.core), without sockets.

Two (in one test three) ``RouterCore`` instances are joined by the in-memory network of
``corenet.py``, which executes their commands as the asyncio driver does. The clock is
fake and moves only in the tests' bounded loops; TLS and SASL EXTERNAL run for real inside
the proton engines. Every test asserts exact commands, bytes and counters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from proton import Message, Receiver

from skupper_podman import certs
from skupper_podman.router import commands as cmd
from skupper_podman.router.agent import handle_request
from skupper_podman.router.config import SslProfile
from skupper_podman.router.connectors import RECONNECT_DELAYS
from skupper_podman.router.engine import AmqpEngine, TlsDomains, TlsSettings
from skupper_podman.router.forwarder import Forwarder
from skupper_podman.router.streams import WINDOW
from skupper_podman.router.tcp import TcpCounters

from .corenet import HOST, CoreNet, FakeSocket, Router

BACKEND_HOST = "10.0.0.5"
REQUEST = b"GET / HTTP/1.1\r\nHost: web\r\n\r\n"
# Big enough to span many AMQP frames and window acknowledgements, small enough to be quick.
PAYLOAD = bytes(range(256)) * 2_000  # 512,000 bytes
CHUNK = 100_000  # does not divide WINDOW: the last chunk before the pause overshoots it


@pytest.fixture
def net(tmp_path: Path) -> CoreNet:
    return CoreNet(tmp_path)


def two_routers(net: CoreNet, *, connector: bool = True) -> tuple[Router, Router]:
    """west (tcpListener "web", inter-router listener) <- east (dials; tcpConnector "web")."""
    west = net.router("west", link_access=True)
    east = net.router("east")
    net.link(east, west)
    west.add("tcpListener", name="web", host=HOST, port=8080, address="web")
    if connector:
        east.add("tcpConnector", name="web", host=BACKEND_HOST, port=80, address="web")
    net.start()
    net.run_until(lambda: linked(west, east), within=5)
    return west, east


def linked(a: Router, b: Router) -> bool:
    """a and b are neighbours: their control links are ready on both sides."""
    return b.name in a.core.fabric.neighbors and a.name in b.core.fabric.neighbors


def open_flow(
    net: CoreNet, client_side: Router, backend_side: Router
) -> tuple[FakeSocket, FakeSocket]:
    """A client connects to "web" and sends REQUEST; the backend answers the dial."""
    client = net.connect_client(client_side, "web")
    net.send(client, REQUEST)
    dial = net.dial(backend_side)
    assert dial == cmd.OpenTcp(dial.flow_id, BACKEND_HOST, 80)
    backend = net.accept(backend_side, dial.flow_id)
    assert bytes(backend.received) == REQUEST
    return client, backend


def tcp_listener_commands(router: Router) -> list[cmd.Listen | cmd.StopListening]:
    """The Listen/StopListening commands for TCP since the last take (the cursor moves on)."""
    commands: list[cmd.Listen | cmd.StopListening] = []
    for command in router.take(cmd.Listen, cmd.StopListening):
        if isinstance(command, cmd.Listen | cmd.StopListening) and command.kind == "tcp":
            commands.append(command)
    return commands


# --- 1. neighbours, addresses and the tcpListener that follows them ------------------------------


def test_listener_opens_only_while_a_connector_for_its_address_exists(net: CoreNet) -> None:
    west, east = two_routers(net, connector=False)
    west.add("tcpConnector", name="db", host=BACKEND_HOST, port=5432, address="db")
    net.reload(west)

    assert set(west.core.fabric.neighbors) == {"east"} and set(east.core.fabric.neighbors) == {
        "west"
    }
    assert west.routing.neighbors() == {"east"} and east.routing.neighbors() == {"west"}
    assert east.routing.routers_with_address("db") == {"west": 1}
    assert west.routing.routers_with_address("web") == {}
    assert tcp_listener_commands(west) == []
    assert ("tcp", "web") not in west.listening

    east.add("tcpConnector", name="web", host=BACKEND_HOST, port=80, address="web")
    net.reload(east)
    assert west.routing.routers_with_address("web") == {"east": 1}
    assert tcp_listener_commands(west) == [cmd.Listen("tcp", "web", HOST, 8080)]
    assert tcp_listener_commands(east) == []  # east has no tcpListener at all

    east.remove("tcpConnector", "web")
    net.reload(east)
    assert west.routing.routers_with_address("web") == {}
    assert tcp_listener_commands(west) == [cmd.StopListening("tcp", "web")]
    assert ("tcp", "web") not in west.listening
    # The inter-router connection was left alone by both config changes.
    assert east.of_kind(cmd.ConnectAmqp) == [cmd.ConnectAmqp(1, HOST, west.inter_router_port)]
    assert east.of_kind(cmd.CloseAmqp) == [] and west.of_kind(cmd.CloseAmqp) == []
    assert set(west.core.fabric.neighbors) == {"east"}


# --- 2. a whole flow, with half-close ------------------------------------------------------------


def test_flow_carries_bytes_both_ways_and_half_closes(net: CoreNet) -> None:
    west, east = two_routers(net)
    client = net.connect_client(west, "web")
    net.send(client, REQUEST)  # before the backend even answers the dial
    dial = net.dial(east)
    assert dial == cmd.OpenTcp(dial.flow_id, BACKEND_HOST, 80)
    assert east.of_flow(dial.flow_id) == [dial]  # the early bytes wait for the socket

    backend = net.accept(east, dial.flow_id)
    assert bytes(backend.received) == REQUEST
    net.send(client, PAYLOAD)
    net.send(backend, PAYLOAD[::-1])
    assert bytes(backend.received) == REQUEST + PAYLOAD
    assert bytes(client.received) == PAYLOAD[::-1]

    net.eof(client)
    assert backend.shutdown and not backend.closed
    assert not client.shutdown and not client.closed
    net.send(backend, b"bye")  # the other direction still works after the client's FIN
    assert bytes(client.received) == PAYLOAD[::-1] + b"bye"
    net.eof(backend)
    assert client.shutdown

    assert (client.closed, client.aborted, backend.closed, backend.aborted) == (
        True,
        False,
        True,
        False,
    )
    assert west.kinds_of_flow(client.flow_id) == ["SendTcp", "ShutdownTcp", "CloseTcp(clean)"]
    assert east.kinds_of_flow(backend.flow_id) == [
        "OpenTcp",
        "SendTcp",
        "ShutdownTcp",
        "CloseTcp(clean)",
    ]
    to_backend, to_client = len(REQUEST + PAYLOAD), len(PAYLOAD) + 3
    assert west.core.tcp.counters == {
        ("listener", "web"): TcpCounters(1, 1, bytes_in=to_backend, bytes_out=to_client)
    }
    assert east.core.tcp.counters == {
        ("connector", "web"): TcpCounters(1, 1, bytes_in=to_client, bytes_out=to_backend)
    }
    assert west.core.tcp.flows == {} and east.core.tcp.flows == {}
    assert west.core.tcp.reply_flows == {} and west.core.fabric.addresses.outstanding == {}
    assert east.core.fabric.addresses.outstanding == {}


# --- 3. the backend refuses -----------------------------------------------------------------


def test_refused_backend_closes_the_client_cleanly_without_data(net: CoreNet) -> None:
    """The only connector cannot reach its backend: the request is released (nothing
    reached a backend), nothing else can take it, and the client gets a plain close."""
    west, east = two_routers(net)
    client = net.connect_client(west, "web")
    net.send(client, REQUEST)
    dial = net.dial(east)
    net.refuse(east, dial.flow_id)

    assert west.kinds_of_flow(client.flow_id) == ["CloseTcp(clean)"]
    assert (client.closed, client.aborted, bytes(client.received)) == (True, False, b"")
    assert east.kinds_of_flow(dial.flow_id) == ["OpenTcp", "CloseTcp(clean)"]
    assert east.dials == {}
    assert west.core.tcp.counters[("listener", "web")] == TcpCounters(1, 1, len(REQUEST), 0)
    assert east.core.tcp.counters[("connector", "web")] == TcpCounters(
        1, 1, 0, 0, failed=1, last_error="Connection refused"
    )
    assert west.core.tcp.flows == {} and east.core.tcp.flows == {}
    assert (
        west.core.fabric.addresses.outstanding == {}
        and east.core.fabric.addresses.outstanding == {}
    )


# --- 4. backpressure ---------------------------------------------------------------------------


def test_backpressure_pauses_the_client_at_one_window(net: CoreNet) -> None:
    west, east = two_routers(net)
    client, backend = open_flow(net, west, east)
    net.write_paused(backend, True)  # the backend's socket buffer is full: no more acks

    sent = bytearray()
    for index in range(3 * WINDOW // CHUNK):  # a client that writes while it is read
        if not client.reading:
            break
        chunk = bytes([index]) * CHUNK
        net.send(client, chunk)
        sent += chunk

    assert client.pauses == 1 and client.resumes == 0
    assert WINDOW <= len(sent) <= WINDOW + CHUNK
    assert len(sent) == -(-WINDOW // CHUNK) * CHUNK  # paused by the chunk that crossed WINDOW
    assert bytes(backend.received) == REQUEST + sent  # the driver buffers what it is given
    assert west.of_flow(client.flow_id)[-1] == cmd.PauseTcp(client.flow_id)

    net.write_paused(backend, False)
    assert west.of_flow(client.flow_id)[-1] == cmd.ResumeTcp(client.flow_id)
    assert client.reading and client.resumes == 1

    net.send(client, b"tail")
    assert bytes(backend.received) == REQUEST + sent + b"tail"


# --- 5. management -------------------------------------------------------------------------------


def management_client(net: CoreNet, west: Router) -> AmqpEngine:
    """A client with a certificate of the site's CA, as the CLI connects (SASL EXTERNAL)."""
    credential = certs.issue_client_cert(net.ca, "skupper-cli")
    certs.write_credential(net.folder / "cli", credential.files())
    profile = SslProfile(
        "cli",
        str(net.folder / "cli/ca.crt"),
        str(net.folder / "cli/tls.crt"),
        str(net.folder / "cli/tls.key"),
    )
    return AmqpEngine(
        server=False,
        ssl_domain=TlsDomains().get(TlsSettings(profile), server=False),
        sasl_mechanisms="EXTERNAL",
        peer_hostname=HOST,
        idle_timeout=0,
    )


QUERY_ROUTER = ["id", "mode", "version", "connectionCount", "nodeCount"]
QUERY_CONNECTION = [
    "identity",
    "host",
    "role",
    "dir",
    "container",
    "opened",
    "isEncrypted",
    "sasl",
    "user",
    "cost",
    "linkName",
]


def query(entity_type: str, names: list[str], message_id: int, reply_to: str) -> Message:
    return Message(
        id=message_id,
        address="$management",
        reply_to=reply_to,
        properties={
            "operation": "QUERY",
            "type": "org.amqp.management",
            "entityType": f"io.skupper.router.{entity_type}",
        },
        body={"attributeNames": names},
    )


def receive_all(link: Receiver) -> list[Message]:
    messages = []
    while (delivery := link.current) is not None:
        encoded = link.recv(delivery.pending)
        assert encoded is not None and not delivery.partial
        message = Message()
        message.decode(encoded)
        messages.append(message)
        link.advance()
        delivery.settle()
    return messages


def test_management_query_over_amqp(net: CoreNet) -> None:
    west, _ = two_routers(net)
    west.take()
    west.add(
        "listener",
        name="local",
        host=HOST,
        port=5671,
        role="normal",
        sslProfile="site-server",
        saslMechanisms="EXTERNAL",
        authenticatePeer=True,
    )
    net.reload(west)
    assert west.take(cmd.Listen) == [cmd.Listen("amqp", "local", HOST, 5671)]

    engine = management_client(net, west)
    connection = engine.connection
    connection.container = "skupper-cli-1"
    connection.open()
    session = connection.session()
    session.open()
    replies = session.receiver("replies")
    replies.source.dynamic = True
    replies.open()
    replies.flow(10)
    requests = session.sender("requests")
    requests.target.address = "$management"
    requests.open()
    net.connect_client_amqp(west, "local", engine)
    reply_to = replies.remote_source.address
    assert reply_to == "_topo/0/west/temp.1"
    assert requests.credit > 0

    for message_id, (entity, names) in enumerate(
        [("router", QUERY_ROUTER), ("connection", QUERY_CONNECTION)], start=1
    ):
        delivery = requests.delivery(str(message_id))
        requests.send(query(entity, names, message_id, reply_to).encode())
        requests.advance()
        delivery.settle()
    net.pump()

    answers = receive_all(replies)
    assert [a.correlation_id for a in answers] == [1, 2]
    for answer in answers:
        assert dict(answer.properties or {}) == {"statusCode": 200, "statusDescription": "OK"}
    assert answers[0].body == {
        "attributeNames": QUERY_ROUTER,
        "results": [["west", "interior", "0.1.0", 2, 1]],
    }
    assert answers[1].body == {
        "attributeNames": QUERY_CONNECTION,
        "results": [
            [
                "1",
                HOST,
                "inter-router",
                "in",
                "east",
                True,
                True,
                "EXTERNAL",
                "CN=east-to-west",
                1,
                "inter-router",
            ],
            [
                "2",
                HOST,
                "normal",
                "in",
                "skupper-cli-1",
                True,
                True,
                "EXTERNAL",
                "CN=skupper-cli",
                1,
                "local",
            ],
        ],
    }
    # The same agent, called directly, gives the same answer.
    direct = handle_request(west.core.view, query("router", QUERY_ROUTER, 7, reply_to))
    assert direct is not None and direct.body == answers[0].body and direct.correlation_id == 7


# --- 6. three routers in a line ------------------------------------------------------------------


def forwarders(router: Router) -> list[Forwarder]:
    """The distinct forwarders on a router (each has an inbound and an outbound stream)."""
    found = {
        id(s.owner): s.owner
        for conn in router.core.connections.values()
        for s in conn.active_streams
        if isinstance(s.owner, Forwarder)
    }
    return list(found.values())


def line_of_three(net: CoreNet) -> tuple[Router, Router, Router]:
    """a - b - c: a and c each link to b; a has tcpListener "web", c the tcpConnector."""
    a = net.router("a")
    b = net.router("b", link_access=True)
    c = net.router("c")
    net.link(a, b)
    net.link(c, b)
    a.add("tcpListener", name="web", host=HOST, port=8080, address="web")
    c.add("tcpConnector", name="web", host=BACKEND_HOST, port=80, address="web")
    net.start()
    return a, b, c


def test_routing_messages_cross_the_middle_router(net: CoreNet) -> None:
    """LSR/LSU/MAR/MAU for a far router pass b as forwarded streams; their destination settles
    them without an outcome, which b must read as accepted (``Delivery.settled``)."""
    a, b, c = line_of_three(net)
    net.run_until(lambda: bool(a.routing.routers_with_address("web")), within=10)
    assert a.routing.reachable_routers() == {"b": 1, "c": 2}
    assert c.routing.reachable_routers() == {"b": 1, "a": 2}
    assert a.routing.next_hop("c") == "b" and c.routing.next_hop("a") == "b"
    assert a.routing.routers_with_address("web") == {"c": 2}
    assert tcp_listener_commands(a) == [cmd.Listen("tcp", "web", HOST, 8080)]
    assert b.core.tcp.flows == {} and forwarders(b) == []  # routed messages are settled through b


def test_flow_through_a_middle_router(net: CoreNet) -> None:
    a, b, c = line_of_three(net)
    net.run_until(lambda: ("tcp", "web") in a.listening, within=10)

    client, backend = open_flow(net, a, c)
    assert b.core.tcp.flows == {} and len(forwarders(b)) == 2  # request and reply pass through
    net.send(backend, PAYLOAD)
    net.send(client, PAYLOAD[::-1])
    assert bytes(client.received) == PAYLOAD
    assert bytes(backend.received) == REQUEST + PAYLOAD[::-1]

    net.eof(client)
    net.eof(backend)
    assert a.kinds_of_flow(client.flow_id) == ["SendTcp", "ShutdownTcp", "CloseTcp(clean)"]
    assert c.kinds_of_flow(backend.flow_id) == [
        "OpenTcp",
        "SendTcp",
        "ShutdownTcp",
        "CloseTcp(clean)",
    ]
    assert forwarders(b) == [] and b.core.tcp.counters == {}
    assert not [x for x in b.history if isinstance(x, cmd.OpenTcp | cmd.SendTcp)]


def connector_status(router: Router) -> str:
    return router.core.connectors.states["link-west"].status


# --- 7. losing the inter-router connection -------------------------------------------------------


def test_connection_loss_aborts_flows_and_the_connector_redials(net: CoreNet) -> None:
    west, east = two_routers(net)
    client, backend = open_flow(net, west, east)
    net.send(backend, b"partial answer")
    first_dial = cmd.ConnectAmqp(1, HOST, west.inter_router_port)
    assert east.of_kind(cmd.ConnectAmqp) == [first_dial]
    tcp_listener_commands(west)

    net.cut(west, east)
    assert (client.closed, client.aborted, backend.closed, backend.aborted) == (
        True,
        True,
        True,
        True,
    )
    assert bytes(client.received) == b"partial answer"
    assert west.kinds_of_flow(client.flow_id) == ["SendTcp", "CloseTcp(abort)"]
    assert east.kinds_of_flow(backend.flow_id) == ["OpenTcp", "SendTcp", "CloseTcp(abort)"]
    assert west.core.tcp.flows == {} and east.core.tcp.flows == {}
    assert west.core.fabric.neighbors == {} and east.core.fabric.neighbors == {}
    assert tcp_listener_commands(west) == [cmd.StopListening("tcp", "web")]
    assert connector_status(east) == "FAILED"

    cut_at = net.now
    net.advance(0.05)
    assert east.of_kind(cmd.ConnectAmqp) == [first_dial]
    net.run_until(lambda: len(east.of_kind(cmd.ConnectAmqp)) > 1, within=0.5)
    assert east.of_kind(cmd.ConnectAmqp) == [first_dial, cmd.ConnectAmqp(2, HOST, first_dial.port)]
    assert net.now == round(cut_at + RECONNECT_DELAYS[0], 6)  # the first retry comes soon
    net.run_until(lambda: linked(west, east), within=5)
    assert connector_status(east) == "SUCCESS"
    assert tcp_listener_commands(west) == [cmd.Listen("tcp", "web", HOST, 8080)]


def test_refused_dial_reports_the_socket_error(net: CoreNet) -> None:
    west = net.router("west", link_access=True)
    east = net.router("east")
    net.link(east, west)
    west.remove("listener", "inter-router")  # nothing listens on west's port
    net.start()

    state = east.core.connectors.states["link-west"]
    assert (state.status, state.failures, state.retry_at) == (
        "FAILED",
        1,
        net.now + RECONNECT_DELAYS[0],
    )
    assert state.message == "Connection refused"
    assert east.of_kind(cmd.Log)[0] == cmd.Log(
        "warning", "connector", "link-west: Connection refused"
    )
