"""The listener containers' port forwarder (``skupper_podman/forward.py``), on loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from skupper_podman import forward
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_for_port


@pytest.fixture
def echo() -> Iterator[Backend]:
    backend = Backend(EchoHandler)
    yield backend
    backend.close()


def test_forwards_bytes_both_ways_and_the_half_close(echo: Backend) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "skupper_podman.forward", str(port), "localhost", str(echo.port)]
    )
    try:
        wait_for_port(port)
        payload = os.urandom(1 << 20)
        assert echo_once(port, payload, timeout=20) == payload  # echo_once half-closes
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_target_is_looked_up_once_not_per_connection(
    echo: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    real = socket.getaddrinfo

    def counted(host: str, *args: object, **kwargs: object) -> object:
        lookups.append(host)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", counted)
    target = forward.Upstream("localhost", echo.port)
    target.resolve()
    for _ in range(5):
        target.connect().close()
    names = [host for host in lookups if not _is_address(host)]  # numeric: no DNS query
    assert names == ["localhost"]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def test_the_target_is_looked_up_again_when_its_address_fails(echo: Backend) -> None:
    target = forward.Upstream("localhost", echo.port)
    target._address = ("127.0.0.1", free_port())  # where the router container used to be
    with target.connect() as upstream:
        assert upstream.getpeername()[1] == echo.port


def test_sigterm_stops_it_at_once_as_a_container_s_first_process(echo: Backend) -> None:
    """A container's PID 1 ignores every signal it has no handler for: the forwarder must
    handle SIGTERM itself (exit 0, not killed by the signal), or removing a listener
    waits out the engine's grace period."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "skupper_podman.forward", str(port), "localhost", str(echo.port)]
    )
    try:
        wait_for_port(port)
        assert echo_once(port, b"up", timeout=10) == b"up"
        process.terminate()
        assert process.wait(timeout=2) == 0
    finally:
        process.kill()
        process.wait()
