"""Multi-key tcpListeners (``router/listener_keys.py``): the choice alone, then through
real routers, where a key that loses its connector stops being chosen."""

from __future__ import annotations

import random
import time
from collections import Counter

from skupper_podman.router.config import ListenerAddress, TcpListener
from skupper_podman.router.listener_keys import choose, keys
from tests.ports import free_port
from tests.router.peers import read_all, tagged_backend
from tests.routernet import RouterNet, wait_listening


def _listener(strategy: str) -> TcpListener:
    return TcpListener(name="db", port=1, address="", multiAddressStrategy=strategy)


ADDRESSES = (
    ListenerAddress("db-a", "db", "a", 3),
    ListenerAddress("db-b", "db", "b", 1),
    ListenerAddress("db-c", "db", "c", 2),
)


def test_priority_takes_the_highest_reachable_key() -> None:
    listener = _listener("priority")
    assert keys(listener, ADDRESSES) == ["a", "c", "b"]
    rng = random.Random(1)
    assert choose(listener, ADDRESSES, lambda key: True, rng) == "a"
    assert choose(listener, ADDRESSES, lambda key: key != "a", rng) == "c"
    assert choose(listener, ADDRESSES, lambda key: key == "b", rng) == "b"
    assert choose(listener, ADDRESSES, lambda key: False, rng) is None


def test_weighted_follows_the_weights_of_reachable_keys() -> None:
    listener = _listener("weighted")
    rng = random.Random(7)
    counts = Counter(choose(listener, ADDRESSES, lambda key: True, rng) for _ in range(6000))
    assert 2700 < counts["a"] < 3300 and 1700 < counts["c"] < 2300 and 700 < counts["b"] < 1300
    counts = Counter(choose(listener, ADDRESSES, lambda key: key != "a", rng) for _ in range(600))
    assert set(counts) == {"b", "c"}


def test_a_single_key_listener_is_its_address() -> None:
    listener = TcpListener(name="web", port=1, address="web")
    assert keys(listener, ()) == ["web"]
    assert choose(listener, (), lambda key: key == "web", random.Random()) == "web"


def test_priority_fails_over_when_the_preferred_key_loses_its_connector(
    net: RouterNet,
) -> None:
    front = net.router("front", link_access=True, management=True)
    back = net.router("back", management=True)
    net.link(back, front)
    primary, standby = tagged_backend(b"primary"), tagged_backend(b"standby")
    for key, backend in (("db-primary", primary), ("db-standby", standby)):
        back.add("tcpConnector", name=key, host="127.0.0.1", port=backend.port, address=key)
    port = free_port()
    front.add("tcpListener", name="db", host="127.0.0.1", port=port, address="",
              multiAddressStrategy="priority")  # fmt: skip
    front.add("listenerAddress", name="db-1", listener="db", address="db-primary", value=2)
    front.add("listenerAddress", name="db-2", listener="db", address="db-standby", value=1)
    net.start()
    net.wait_routes()
    wait_listening(port, timeout=20)
    assert {read_all(port) for _ in range(5)} == {b"primary"}

    back.remove("tcpConnector", "db-primary")
    back.reload()
    started = time.monotonic()
    while read_all(port) != b"standby":
        assert time.monotonic() - started < 5, "no failover to the standby key"
    failover = time.monotonic() - started
    assert {read_all(port) for _ in range(5)} == {b"standby"}
    print(f"failover to the standby key in {failover:.2f} s")

    back.add("tcpConnector", name="db-primary", host="127.0.0.1", port=primary.port,
             address="db-primary")  # fmt: skip
    back.reload()
    started = time.monotonic()
    while read_all(port) != b"primary":
        assert time.monotonic() - started < 5, "the preferred key was not taken back"
    primary.close()
    standby.close()
