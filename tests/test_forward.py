"""The listener containers' port forwarder (``skupper_podman/forward.py``), on loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import threading
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


def test_a_stale_address_beside_the_live_one_is_passed_over(
    echo: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine's DNS that still holds a removed container's address answers both."""
    dead = ("127.0.0.1", free_port())
    answers = [dead, ("127.0.0.1", echo.port)]
    real = socket.getaddrinfo

    def both(host: str, *args: object, **kwargs: object) -> object:
        if host != "skupper-east-router":
            return real(host, *args, **kwargs)  # type: ignore[arg-type]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in answers]

    monkeypatch.setattr(socket, "getaddrinfo", both)
    target = forward.Upstream("skupper-east-router", echo.port)
    for _ in range(2):  # the live one is remembered
        with target.connect() as upstream:
            assert upstream.getpeername()[1] == echo.port
    echo.close()
    answers.remove(answers[1])
    with pytest.raises(ConnectionRefusedError):
        target.connect()  # the live one went away, only the dead one is left


def test_a_dead_address_is_said_before_the_name_is_looked_up_again(
    echo: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An engine's DNS can take longer than the test's minute to answer for a router cut
    off from the network (seen on Podman in CI): the forwarder says it cannot reach the
    router as soon as the address it knows fails, not after the lookup."""
    looking_up, answer = threading.Event(), threading.Event()
    real = socket.getaddrinfo

    def slow(host: str, *args: object, **kwargs: object) -> object:
        if host != "skupper-east-router":
            return real(host, *args, **kwargs)  # type: ignore[arg-type]
        looking_up.set()
        answer.wait(10)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", echo.port))]

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    target = forward.Upstream("skupper-east-router", echo.port)
    target._address = ("127.0.0.1", free_port())  # where the router used to answer
    connected: list[socket.socket] = []
    thread = threading.Thread(target=lambda: connected.append(target.connect()))
    thread.start()
    try:
        assert looking_up.wait(10)
        said = capsys.readouterr().err
        assert said.startswith("cannot reach the router at skupper-east-router:"), said
    finally:
        answer.set()
        thread.join(10)
    assert connected and connected[0].getpeername()[1] == echo.port
    connected[0].close()


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


def _check(host: str, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skupper_podman.forward", "--check", "0", host, str(port)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def test_check_says_whether_the_target_accepts(echo: Backend) -> None:
    """What `site status` runs in each listener container."""
    reached = _check("localhost", echo.port)
    assert reached.returncode == 0 and reached.stdout.startswith(f"reaches localhost:{echo.port}")
    refused = _check("127.0.0.1", free_port())
    assert refused.returncode == 1
    assert refused.stdout.startswith("cannot reach 127.0.0.1:") and "refused" in refused.stdout
    unknown = _check("no-such-router.invalid", echo.port)
    assert unknown.returncode == 1 and unknown.stdout.startswith("cannot reach no-such-router")


def test_losing_and_finding_the_target_is_logged_once_each(
    echo: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    port, gone = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "skupper_podman.forward", str(port), "127.0.0.1", str(gone)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port)
        for _ in range(3):  # accepted, then closed at once: the target refuses
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.settimeout(5)
                assert client.recv(1) == b""
    finally:
        process.terminate()
        process.wait(timeout=5)
    assert process.stderr is not None
    logged = process.stderr.read().splitlines()
    assert len(logged) == 1 and logged[0].startswith(f"cannot reach the router at 127.0.0.1:{gone}")
    target = forward.Upstream("127.0.0.1", echo.port)
    for outcome in (OSError("refused"), OSError("refused"), None, None, OSError("reset")):
        target.reached(outcome)
    assert capsys.readouterr().err.splitlines() == [
        f"cannot reach the router at 127.0.0.1:{echo.port}: refused",
        f"reaches the router at 127.0.0.1:{echo.port} again",
        f"cannot reach the router at 127.0.0.1:{echo.port}: reset",
    ]


def test_each_line_is_written_whole(echo: Backend) -> None:
    """Unbuffered (as in the image), each line goes out in one write: an engine that reads
    the text and its newline apart stores a partial line, which ``podman logs --tail``
    (Podman 4.3) leaves out. A SOCK_SEQPACKET pair as stderr keeps each write apart."""
    port, gone = free_port(), free_port()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    process = subprocess.Popen(
        [sys.executable, "-m", "skupper_podman.forward", str(port), "127.0.0.1", str(gone)],
        stderr=theirs.fileno(),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    theirs.close()
    try:
        wait_for_port(port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.settimeout(5)
            assert client.recv(1) == b""  # the target refuses
        ours.settimeout(5)
        first_write = ours.recv(4096).decode()
    finally:
        process.terminate()
        process.wait(timeout=5)
        ours.close()
    assert first_write.startswith("cannot reach the router at 127.0.0.1:"), first_write
    assert first_write.endswith("\n") and first_write.count("\n") == 1, first_write
