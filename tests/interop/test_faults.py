"""Faults in mixed networks: a backend that refuses, a router killed and restarted, a
path lost in a mesh. Each case runs the all-ours and all-skupper-router controls too."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once, wait_closed
from tests.routernet import Kind, RouterNet, wait_listening

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
