"""Chains of routers for the interop tests, written as text: ``"sk-ours-sk"``.

Each position is ``kind`` or ``kind:mode`` (``sk``, ``ours``, ``ours:edge``, ...). The first
router has a tcpListener, the last a tcpConnector to a backend; the rest carry the flow.
Between two interior routers the later one dials the earlier; an edge dials its interior.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Protocol, cast

from tests.ports import free_port
from tests.routernet import Kind, Router, RouterNet, wait_listening

KEY = "svc"


class Service(Protocol):
    """What the last router's tcpConnector dials: a backend, or a port that refuses."""

    @property
    def port(self) -> int: ...

    def close(self) -> None: ...


@dataclass
class Chain:
    routers: list[Router]
    backend: Service
    port: int  # the listener on the first router

    def close(self) -> None:
        self.backend.close()


def positions(spec: str) -> list[tuple[Kind, str]]:
    """``"sk:edge-ours-sk:edge"`` -> [("sk", "edge"), ("ours", "interior"), ("sk", "edge")]."""
    result: list[tuple[Kind, str]] = []
    for position in spec.split("-"):
        kind, _, mode = position.partition(":")
        assert kind in ("ours", "sk"), f"unknown router kind {kind!r} in {spec!r}"
        result.append((cast(Kind, kind), mode or "interior"))
    return result


def build(net: RouterNet, spec: str, backend: Service, *, start: bool = True) -> Chain:
    """The chain's routers, linked; started unless ``start=False``: then each interior
    router has a route to every other and the first router listens."""
    routers = []
    for index, (kind, mode) in enumerate(positions(spec)):
        routers.append(
            net.router(
                f"r{index}-{kind}",
                kind=kind,
                mode=mode,
                link_access=mode == "interior",
                management=True,
            )
        )
    for left, right in itertools.pairwise(routers):
        if left.mode == "edge":
            net.link(left, right)
        else:
            net.link(right, left)
    routers[-1].add(
        "tcpConnector", name=f"{KEY}-connector", host="127.0.0.1", port=backend.port, address=KEY
    )
    port = free_port()
    routers[0].add("tcpListener", name=f"{KEY}-listener", host="127.0.0.1", port=port, address=KEY)
    chain = Chain(routers, backend, port)
    if start:
        net.start()
        net.wait_routes()
        wait_listening(port, timeout=30)
    return chain


CHAINS = [
    "ours-sk",
    "sk-ours",
    "sk-ours-sk",
    "ours-sk-ours",
    "sk-sk-ours",
    "ours-ours-sk",
    "sk-ours-ours-sk",
    "ours-sk-sk-ours",
    # edge - hub - edge, and an edge of either kind behind a hub of the other
    "sk:edge-ours-sk:edge",
    "ours:edge-sk-ours:edge",
    "sk:edge-ours-ours:edge",
    "ours:edge-sk-sk",
]
CONTROLS = ["ours-ours-ours", "sk-sk-sk", "ours:edge-ours-ours:edge", "sk:edge-sk-sk:edge"]
