"""A corpus of Skupper v2 YAML, written here after Skupper's documentation and CRDs, each
applied to a running site (linux platform) and its effect checked: a flow crosses, a
failover happens, and what `site generate` writes applies again unchanged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, read_all, tagged_backend
from tests.routernet import wait_listening


def _apply(tmp_path: Path, text: str) -> str:
    path = tmp_path / f"doc-{time.monotonic_ns()}.yaml"
    path.write_text(text)
    return ok("apply", "-f", str(path), "-n", "west").stdout


# Skupper's "hello world" shape: a site, the backend's connector and the frontend's
# listener, in one file as a user of `skupper system` keeps them.
HELLO_WORLD = """\
apiVersion: skupper.io/v2alpha1
kind: Site
metadata:
  name: west
  namespace: west
---
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: backend
  namespace: west
spec:
  routingKey: backend
  host: 127.0.0.1
  port: {backend}
---
apiVersion: skupper.io/v2alpha1
kind: Listener
metadata:
  name: backend
  namespace: west
spec:
  routingKey: backend
  host: 127.0.0.1
  port: {listener}
"""

MULTI_KEY = """\
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: db-primary
spec:
  routingKey: db-primary
  host: 127.0.0.1
  port: {primary}
---
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: db-standby
spec:
  routingKey: db-standby
  host: 127.0.0.1
  port: {standby}
---
apiVersion: skupper.io/v2alpha1
kind: MultiKeyListener
metadata:
  name: db
spec:
  host: 127.0.0.1
  port: {port}
  strategy:
    {strategy}
"""
PRIORITY = "priority:\n      routingKeysByPriority: [db-primary, db-standby]"
WEIGHTED = "weighted:\n      weightsByRoutingKey: {db-primary: 3, db-standby: 1}"


@pytest.fixture
def backends() -> Iterator[tuple[Backend, Backend]]:
    primary, standby = tagged_backend(b"primary"), tagged_backend(b"standby")
    yield primary, standby
    primary.close()
    standby.close()


def test_hello_world_applies_and_carries_a_flow(
    router_available: None, tmp_path: Path, backends: tuple[Backend, Backend]
) -> None:
    listener = free_port()
    said = _apply(tmp_path, HELLO_WORLD.format(backend=backends[0].port, listener=listener))
    assert "Site west created" in said and "Listener backend created" in said
    wait_listening(listener, timeout=20)
    assert read_all(listener) == b"primary"
    generated = ok("site", "generate", "-n", "west").stdout
    again = _apply(tmp_path, generated)
    assert "created" not in again and "updated" not in again, again
    assert "Connector backend unchanged" in again


def test_multi_key_listener_by_priority_fails_over(
    router_available: None, tmp_path: Path, backends: tuple[Backend, Backend]
) -> None:
    ok("site", "init", "west", "-n", "west")
    port = free_port()
    primary, standby = backends
    text = MULTI_KEY.format(
        primary=primary.port, standby=standby.port, port=port, strategy=PRIORITY
    )
    assert "MultiKeyListener db created" in _apply(tmp_path, text)
    wait_listening(port, timeout=20)
    assert {read_all(port) for _ in range(5)} == {b"primary"}
    ok("connector", "delete", "db-primary", "-n", "west")
    started = time.monotonic()
    while read_all(port) != b"standby":
        assert time.monotonic() - started < 5, "no failover to db-standby"
    assert {read_all(port) for _ in range(5)} == {b"standby"}
    generated = ok("site", "generate", "-n", "west").stdout
    assert "routingKeysByPriority" in generated
    assert "MultiKeyListener db unchanged" in _apply(tmp_path, generated)


def test_multi_key_listener_by_weight_shares_the_flows(
    router_available: None, tmp_path: Path, backends: tuple[Backend, Backend]
) -> None:
    ok("site", "init", "west", "-n", "west")
    port = free_port()
    primary, standby = backends
    _apply(
        tmp_path,
        MULTI_KEY.format(primary=primary.port, standby=standby.port, port=port, strategy=WEIGHTED),
    )
    wait_listening(port, timeout=20)
    answers = [read_all(port) for _ in range(200)]
    share = answers.count(b"primary") / len(answers)
    print(f"weighted 3:1: {share:.2f} of 200 flows to db-primary")
    assert 0.6 < share < 0.9
    assert status_json("site", "status", "-n", "west")["routerAnswering"]
