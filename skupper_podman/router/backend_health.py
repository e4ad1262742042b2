"""Whether each tcpConnector's backend answers, so flows go only to those that do.

A connector is in rotation until a dial to its backend fails (refused, unreachable, TLS
refused). It then leaves the rotation: its key is no longer offered by it, and a probe
(a plain TCP connect) retries its backend with back-off, from ``FIRST_PROBE`` doubling to
``LAST_PROBE``. A probe or a flow that reaches the backend brings it back.

    UP --dial failed--> DOWN --probe answered--> UP
                         |  ^
                         +--+ probe failed: next probe later
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

FIRST_PROBE = 0.5  # seconds after the failure
LAST_PROBE = 10.0  # a backend that is back waits at most this long


class BackendState(Enum):
    UP = "up"
    DOWN = "down"


@dataclass
class Backend:
    state: BackendState = BackendState.UP
    last_error: str = ""
    down_since: float = 0.0
    probe_at: float = 0.0
    probe_delay: float = FIRST_PROBE
    probing: bool = False
    failures: int = 0  # times it left the rotation


class BackendHealth:
    """The health of every tcpConnector's backend, by connector name."""

    def __init__(self) -> None:
        self.backends: dict[str, Backend] = {}

    def sync(self, names: Iterable[str]) -> None:
        """The configured connectors: new ones start in rotation, removed ones are forgotten."""
        wanted = set(names)
        self.backends = {name: self.backends.get(name, Backend()) for name in wanted}

    def is_up(self, name: str) -> bool:
        backend = self.backends.get(name)
        return backend is None or backend.state is BackendState.UP

    def failed(self, name: str, error: str, now: float) -> bool:
        """A dial failed; True when the connector just left the rotation."""
        backend = self.backends.get(name)
        if backend is None:
            return False
        backend.last_error = error
        if backend.state is BackendState.DOWN:
            return False
        backend.state = BackendState.DOWN
        backend.down_since = now
        backend.probe_delay = FIRST_PROBE
        backend.probe_at = now + FIRST_PROBE
        backend.failures += 1
        return True

    def answered(self, name: str) -> bool:
        """A dial or probe reached the backend; True when the connector is back in rotation."""
        backend = self.backends.get(name)
        if backend is None:
            return False
        backend.probing = False
        if backend.state is BackendState.UP:
            return False
        backend.state = BackendState.UP
        backend.last_error = ""
        return True

    def probe_failed(self, name: str, error: str, now: float) -> None:
        backend = self.backends.get(name)
        if backend is None or backend.state is BackendState.UP:
            return
        backend.probing = False
        backend.last_error = error
        backend.probe_delay = min(backend.probe_delay * 2, LAST_PROBE)
        backend.probe_at = now + backend.probe_delay

    def due_probes(self, now: float) -> list[str]:
        """The connectors to probe now; each is marked as being probed."""
        due = []
        for name, backend in self.backends.items():
            down = backend.state is BackendState.DOWN
            if down and not backend.probing and backend.probe_at <= now:
                backend.probing = True
                due.append(name)
        return due

    def next_probe(self) -> float | None:
        times = [
            b.probe_at
            for b in self.backends.values()
            if b.state is BackendState.DOWN and not b.probing
        ]
        return min(times) if times else None
