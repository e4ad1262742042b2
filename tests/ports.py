"""Ports for the tests' listeners, handed out once each and outside the ephemeral range.

A port from ``bind(port 0)`` lies in the kernel's ephemeral range (32768-60999 by default):
before its listener starts, an outgoing connection may take it as a source port, or a dial
to it may connect the socket to itself (TCP simultaneous open), and a second ``bind(0)`` may
hand out the same port again. Ports below that range, each given once per test process,
avoid all three.
"""

from __future__ import annotations

import itertools
import os
import random
import socket

_FIRST, _LAST = 20000, 32000


def ephemeral_floor() -> int:
    """The first port of the kernel's ephemeral range (source ports of outgoing connections)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            return int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_LIMIT = min(_LAST, ephemeral_floor())
# Start at a place of this process's own, so two test processes rarely walk the same ports.
_start = _FIRST + random.Random(os.getpid()).randrange(_LIMIT - _FIRST)
_candidates = itertools.chain(range(_start, _LIMIT), itertools.cycle(range(_FIRST, _LIMIT)))


def free_port() -> int:
    """A TCP port nothing listens on now (any address), not handed out before."""
    for port in _candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("", port))
            except OSError:
                continue
        return port
    raise AssertionError("unreachable: the candidates never end")
