"""Reaching a backend (``router/backend_dial.py``): a name lookup that failed for now is
asked again; any other failure is the answer at once. The probe, against real sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from skupper_podman.router import backend_dial
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler


def _dial_failing(errors: list[int]) -> tuple[list[int], object]:
    calls: list[int] = []

    async def dial() -> None:
        calls.append(1)
        if errors:
            code = errors.pop(0)
            raise socket.gaierror(code, "lookup failed")

    return calls, dial


def test_a_lookup_that_failed_for_now_is_asked_again() -> None:
    calls, dial = _dial_failing([socket.EAI_AGAIN])
    asyncio.run(backend_dial.connect(dial))  # type: ignore[arg-type]
    assert len(calls) == 2


def test_an_unknown_name_fails_at_once_and_again_and_again_stops() -> None:
    calls, dial = _dial_failing([socket.EAI_NONAME])
    with pytest.raises(socket.gaierror):
        asyncio.run(backend_dial.connect(dial))  # type: ignore[arg-type]
    assert len(calls) == 1
    calls, dial = _dial_failing([socket.EAI_AGAIN] * backend_dial.NAME_LOOKUP_TRIES)
    with pytest.raises(socket.gaierror):
        asyncio.run(backend_dial.connect(dial))  # type: ignore[arg-type]
    assert len(calls) == backend_dial.NAME_LOOKUP_TRIES


def test_the_probe_says_whether_the_backend_answers() -> None:
    backend = Backend(EchoHandler)
    try:

        async def both() -> tuple[str, str]:
            loop = asyncio.get_running_loop()
            up = await backend_dial.probe(loop, "127.0.0.1", backend.port)
            down = await backend_dial.probe(loop, "127.0.0.1", free_port())
            return up, down

        up, down = asyncio.run(both())
    finally:
        backend.close()
    assert up == "" and down  # why not: the OS error's text
