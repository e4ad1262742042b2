"""The routing protocol in networks larger than a test can start: bench/mesh_sim.py joins
many LinkStateRouters on a simulated clock, relaying as the router core does."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from mesh_sim import Delivery, MeshSim, Timers, hub_and_spoke, random_mesh

TIMERS = Timers()
DELAY = 0.005  # one hop


@pytest.fixture(scope="module")
def booted() -> tuple[MeshSim, float]:
    rng = random.Random(7)
    sim = MeshSim(random_mesh(60, 3.0, rng), TIMERS, delay=DELAY, rng=rng)
    sim.start(spread=1.0)
    last = sim.run_until_quiet(limit=60.0, quiet=10.0)
    return sim, last


def test_a_cold_mesh_converges_with_true_routes_and_every_address(
    booted: tuple[MeshSim, float],
) -> None:
    sim, last = booted
    assert sim.wrong_routes() == [] and sim.missing_addresses() == []
    # Links open within 2 s. A request lost on the way (a relay whose routes lag) costs at
    # most the origin's next RA (every 4 s in flux): an LSR or MAR for what an RA announced
    # is asked again a HELLO interval later, not an RA interval.
    assert last < 2.0 + TIMERS.ra_interval_flux + TIMERS.hello_interval


def test_a_flood_is_relayed_once_per_router(booted: tuple[MeshSim, float]) -> None:
    sim, _ = booted
    origin = "r0030"
    copies: Counter[str] = Counter()
    deliver = sim._deliver

    def counting(router_id: str, delivery: Delivery) -> None:
        if delivery.message.opcode == "MAU" and delivery.origin == origin:
            copies[router_id] += 1
        deliver(router_id, delivery)

    sim._deliver = counting  # type: ignore[method-assign]
    try:
        sim.routers[origin].set_mobile_addresses({"svc-r0030", "new"}, sim.now)
        sim.run_until(sim.now + 1.0)
    finally:
        sim._deliver = deliver  # type: ignore[method-assign]
    assert set(copies) == set(sim.routers) - {origin}
    # each router relays the copy from its next hop to the origin, on each other link: one
    # copy per link end at most, never one per loop-free path
    assert sum(copies.values()) <= 2 * len(sim.topology.links)
    assert all(
        r.routers_with_address("new") == {origin: r.reachable_routers()[origin]}
        for name, r in sim.routers.items()
        if name != origin
    )


@pytest.mark.parametrize("silent", [False, True], ids=["closed", "silent"])
def test_a_lost_link_reroutes_every_router(booted: tuple[MeshSim, float], silent: bool) -> None:
    sim, _ = booted
    adjacency = sim.topology.neighbors()
    a = max(adjacency, key=lambda r: len(adjacency[r]))
    b = max(adjacency[a], key=lambda r: len(adjacency[r]))
    cut_at = sim.now
    sim.last_change.clear()
    sim.cut(a, b, silent=silent)
    last = sim.run_until_quiet(limit=cut_at + 60.0, quiet=10.0)
    assert sim.wrong_routes() == [] and sim.missing_addresses() == []
    assert len(sim.last_change) > 2  # routes moved beyond the link's two ends
    detect = TIMERS.hello_max_age if silent else 0.0
    assert last - cut_at <= detect + 2 * TIMERS.spf_holddown + 0.2
    if silent:
        sim.cut(a, b, silent=False)
    sim.open(a, b)
    sim.run_until_quiet(limit=sim.now + 60.0, quiet=10.0)
    assert sim.wrong_routes() == []


def test_hub_and_spoke_hubs_see_every_edge() -> None:
    rng = random.Random(3)
    sim = MeshSim(hub_and_spoke(120, hubs=4), TIMERS, delay=DELAY, rng=rng)
    sim.start(spread=1.0)
    sim.run_until_quiet(limit=60.0, quiet=10.0)
    assert sim.wrong_routes() == [] and sim.missing_addresses() == []
    hub = sim.routers["hub00"]
    assert len(hub.routers_with_edge("edge0001")) == 1
    assert sum(len(hub.routers_with_address(f"svc-edge{i:04d}")) for i in range(116)) == 116 - 29
