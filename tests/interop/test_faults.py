"""Faults in mixed networks: a backend that refuses, a router killed and restarted, a
path lost in a mesh. Each case runs the all-ours and all-skupper-router controls too."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once, wait_closed
from tests.routernet import Kind, Router, RouterNet, wait_listening

from .chains import KEY, build

RECOVERY_SECONDS = 15.0


class _Refusing:
    """A backend port where nothing listens: every dial is refused."""

    def __init__(self) -> None:
        self._port = free_port()

    @property
    def port(self) -> int:
        return self._port

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "spec", ["ours-sk", "sk-ours", "sk-ours-sk", "ours-sk-ours", "ours-ours", "sk-sk"]
)
def test_a_refusing_backend_closes_the_client_at_once(net: RouterNet, spec: str) -> None:
    chain = build(net, spec, _Refusing())
    with socket.create_connection(("127.0.0.1", chain.port), timeout=10) as client:
        client.sendall(b"hello?")
        seconds = wait_closed(client, timeout=5)
    print(f"{spec}: client closed {seconds * 1000:.0f} ms after a refused dial")
    assert seconds < 1.0


@pytest.mark.parametrize("middle", ["sk", "ours"])
def test_a_flow_moves_past_a_refusing_backend_through_either_router(
    net: RouterNet, middle: Kind
) -> None:
    """a (listener) - b - c and d (connectors, ours). c is the nearer and its backend
    refuses: c gives the request back as undeliverable there (AMQP modified), b passes that
    on as it came, and a sends the flow again; c no longer offers the key, so it reaches d.
    (A skupper-router listener would end the client instead.)"""
    a = net.router("a", link_access=True, management=True)
    b = net.router("b", kind=middle, link_access=True, management=True)
    c, d = net.router("c"), net.router("d")
    net.link(b, a)
    net.link(c, b)
    net.link(d, b, cost=2)
    refusing, backend = _Refusing(), Backend(EchoHandler)
    c.add("tcpConnector", name="echo", host="127.0.0.1", port=refusing.port, address=KEY)
    d.add("tcpConnector", name="echo", host="127.0.0.1", port=backend.port, address=KEY)
    port = free_port()
    a.add("tcpListener", name="echo", host="127.0.0.1", port=port, address=KEY)
    net.start()
    deadline = time.monotonic() + 30
    while _remote_count(a, f"M{KEY}") < 2 or not _forwards_from(b, "a", to="c"):
        assert time.monotonic() < deadline, "the routes never settled"
        time.sleep(0.1)
    assert echo_once(port, b"past c") == b"past c"
    assert "backend connection failed" in c.log  # the flow went to c first
    backend.close()


def _forwards_from(router: Router, origin: str, *, to: str) -> bool:
    """Whether ``router`` forwards what ``origin`` sends to ``to``: a skupper-router
    releases it until ``origin`` is a valid origin there, which it computes once a second."""
    nodes = {str(row["id"]): row for row in router.query_or_none("router.node")}
    return to in nodes and origin in (nodes[to].get("validOrigins") or [])


def _remote_count(router: Router, key: str) -> int:
    """How many other routers ``router`` knows to offer ``key`` (0 before it listens)."""
    rows = {str(row["name"]): row for row in router.query_or_none("router.address")}
    return int(rows[key]["remoteCount"]) if key in rows else 0


def _flows_work_again(port: int, deadline: float) -> float:
    """Seconds until an echo through ``port`` succeeds, trying until ``deadline``."""
    start = time.monotonic()
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if echo_once(port, b"back?" * 100, timeout=2) == b"back?" * 100:
                return time.monotonic() - start
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"no flow got through within the deadline (last error: {last})")


@pytest.mark.parametrize("spec", ["ours-sk-ours", "sk-ours-sk", "ours-ours-ours", "sk-sk-sk"])
def test_the_middle_router_killed_and_restarted(net: RouterNet, spec: str) -> None:
    """A new instance of the transit router (a new ``instance`` in its HELLO) is taken
    back by both neighbours and carries flows again."""
    chain = build(net, spec, Backend(EchoHandler))
    assert echo_once(chain.port, b"before") == b"before"
    middle = chain.routers[1]
    middle.kill(signal.SIGKILL)
    wait_listening(chain.port, open_=False, timeout=RECOVERY_SECONDS)  # no route, no listener
    middle.start()
    started = time.monotonic()
    wait_listening(chain.port, timeout=RECOVERY_SECONDS)
    seconds = _flows_work_again(chain.port, started + RECOVERY_SECONDS)
    print(f"{spec}: flows back {time.monotonic() - started:.2f} s after the restart")
    assert seconds < RECOVERY_SECONDS
    chain.close()


@pytest.mark.parametrize(
    "kinds",
    [
        ("sk", "ours", "sk", "ours"),  # a(sk) - b(ours) | c(sk) - d(ours)
        ("ours", "sk", "ours", "sk"),
        ("ours", "ours", "ours", "ours"),
        ("sk", "sk", "sk", "sk"),
    ],
    ids="-".join,
)
def test_a_mesh_of_four_moves_new_flows_to_the_other_path(
    net: RouterNet, kinds: tuple[Kind, Kind, Kind, Kind]
) -> None:
    """a links to b and c, both link to d. The path through b is the cheaper one; when b
    dies, new flows go through c."""
    a, b, c, d = (
        net.router(name, kind=kind, link_access=True)
        for name, kind in zip(("a", "b", "c", "d"), kinds, strict=True)
    )
    net.link(b, a)
    net.link(c, a, cost=5)
    net.link(d, b)
    net.link(d, c, cost=5)
    backend = Backend(EchoHandler)
    d.add("tcpConnector", name="echo", host="127.0.0.1", port=backend.port, address=KEY)
    port = free_port()
    a.add("tcpListener", name="echo", host="127.0.0.1", port=port, address=KEY)
    net.start()
    wait_listening(port, timeout=30)
    assert echo_once(port, b"via b") == b"via b"
    b.kill(signal.SIGKILL)
    killed = time.monotonic()
    seconds = _flows_work_again(port, killed + RECOVERY_SECONDS)
    print(f"{'-'.join(kinds)}: new flows through c {seconds:.2f} s after b died")
    assert c.process is not None and c.process.poll() is None
    backend.close()
