"""Large networks of our routing protocol, simulated in one process (``mesh_sim.py``).

For random meshes and hub-and-spoke networks of 50, 200 and 1,000 routers: how long the
network takes to converge from a cold start, and after a link is lost (a closed connection,
and a silent one that only HELLO's max age detects), in seconds of protocol time and in
messages of the causal chain; the messages it took; one path computation's time; and the
memory of one router's routing state. Every result is checked: each router's routes must
equal the true shortest paths and it must see every reachable router's addresses.

    python bench/mesh.py [--sizes 50,200,1000] [--delay 0.005] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mesh_sim import MeshSim, Timers, Topology, hub_and_spoke, random_mesh

from skupper_podman.router import spf

RESULTS = Path(__file__).resolve().parent / "results"
QUIET = 12.0  # no route change for this long: converged (longer than the RA flux period)
QUIET_AFTER_CUT = 6.0  # a cut's changes come within HELLO's max age and a retry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,1000")
    parser.add_argument("--kinds", default="random,hub-and-spoke")
    parser.add_argument("--degree", type=float, default=3.0, help="mean links per router")
    parser.add_argument("--delay", type=float, default=0.005, help="one hop, seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    timers = Timers()
    rows = []
    for kind in args.kinds.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            rng = random.Random(args.seed)
            if kind == "random":
                topology = random_mesh(size, args.degree, rng)
            else:
                topology = hub_and_spoke(size, hubs=max(3, size // 50))
            row = measure(kind, size, topology, timers, args.delay, rng)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print(table(rows, timers, args.delay))
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = RESULTS / f"mesh-{stamp}-{_commit()}.json"
    payload = {"timers": timers.__dict__, "delay": args.delay, "rows": rows}
    out.write_text(json.dumps(payload, indent=1))
    print(f"\nwritten to {out.relative_to(RESULTS.parent.parent)}")


def measure(
    kind: str, size: int, topology: Topology, timers: Timers, delay: float, rng: random.Random
) -> dict[str, Any]:
    sim = MeshSim(topology, timers, delay=delay, rng=rng)
    wall = time.perf_counter()
    # The simulation holds tens of millions of queued events: the cyclic collector would
    # walk them all again and again (most of a 1,000-router run), and nothing here needs it.
    gc.disable()
    sim.start(spread=1.0)
    booted = sim.run_until_quiet(limit=300.0, quiet=QUIET)
    row: dict[str, Any] = {
        "kind": kind,
        "routers": size,
        "interior": len(topology.addresses),
        "links": len(topology.links),
        "boot_s": round(booted - 1.0, 2),  # from the last router's boot (spread 1 s)
        "boot_messages_per_router": round(sim.delivered / len(topology.addresses)),
    }
    _check(sim, "after the start")
    row["spf_ms"] = _path_computation_ms(sim)
    row["state_kib_per_router"] = round(
        _deep_size(list(sim.routers.values())) / 1024 / len(sim.routers), 1
    )
    a, b = _busiest_link(sim)
    for silent in (False, True):
        name = "silent" if silent else "closed"
        sent = sim.delivered
        cut_at = sim.now
        sim.last_change.clear()
        sim.cut(a, b, silent=silent)
        last = sim.run_until_quiet(limit=cut_at + 120.0, quiet=QUIET_AFTER_CUT)
        _check(sim, f"after a {name} link loss")
        final = max(sim.last_change.values())  # the last change: (when, depth, delivered)
        row[f"{name}_s"] = round(last - cut_at, 3)
        row[f"{name}_chain"] = final[1]
        row[f"{name}_routers_changed"] = len(sim.last_change)
        # messages until the network converged (HELLOs included)
        row[f"{name}_messages_per_router"] = round((final[2] - sent) / len(sim.routers), 1)
        if silent:
            sim.cut(a, b, silent=False)  # the connection finally closes
        sim.open(a, b)
        sim.run_until_quiet(limit=sim.now + 120.0, quiet=QUIET_AFTER_CUT)
        _check(sim, f"after the {name} link came back")
    row["wall_s"] = round(time.perf_counter() - wall, 1)
    gc.enable()
    return row


def _check(sim: MeshSim, when: str) -> None:
    wrong, missing = sim.wrong_routes(), sim.missing_addresses()
    if wrong or missing:
        raise SystemExit(f"{when}: wrong routes at {wrong[:5]}, addresses missing at {missing[:5]}")


def _busiest_link(sim: MeshSim) -> tuple[str, str]:
    """A link between the two best-linked routers whose loss leaves the network connected."""
    adjacency = sim.topology.neighbors()
    ranked = sorted(sim.topology.links, key=lambda link: -sum(len(adjacency[r]) for r in link))
    for link in ranked:
        a, b = sorted(link)
        adjacency[a].discard(b)
        adjacency[b].discard(a)
        if _connected(adjacency):
            return a, b
        adjacency[a].add(b)
        adjacency[b].add(a)
    raise SystemExit("every link is a bridge: nothing to cut without a partition")


def _connected(adjacency: dict[str, set[str]]) -> bool:
    start = next(iter(adjacency))
    seen, frontier = {start}, [start]
    while frontier:
        found = {p for n in frontier for p in adjacency[n]} - seen
        seen |= found
        frontier = list(found)
    return len(seen) == len(adjacency)


def _path_computation_ms(sim: MeshSim) -> float:
    """One router's path computation over the whole network's link states (median of 9)."""
    router_id, router = next(iter(sim.routers.items()))
    states = {r: router.link_state(r) for r in [router_id, *router.reachable_routers()]}
    times = []
    for _ in range(9):
        start = time.perf_counter()
        graph = spf.link_state_graph(states)
        prev, _ = spf.shortest_path_tree(router_id, graph)
        spf.next_hops(router_id, prev)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def _deep_size(root: object) -> int:
    """Bytes of every object reachable from ``root`` (shared ones once), classes excluded."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type) or callable(obj):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def table(rows: list[dict[str, Any]], timers: Timers, delay: float) -> str:
    lines = [
        f"timers: HELLO {timers.hello_interval} s, max age {timers.hello_max_age} s, RA "
        f"{timers.ra_interval} s ({timers.ra_interval_flux} s in flux), path computation "
        f"holddown {timers.spf_holddown} s; one hop {delay * 1000:g} ms",
        "",
        "| network | routers (interior) | links | cold start | link closed: converged "
        "(chain, routers changed) | link silent: converged | messages per router "
        "(start / closed / silent) | one path computation | routing state per router |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['routers']} ({r['interior']}) | {r['links']} | {r['boot_s']} s"
            f" | {r['closed_s']} s ({r['closed_chain']}, {r['closed_routers_changed']})"
            f" | {r['silent_s']} s | {r['boot_messages_per_router']} / "
            f"{r['closed_messages_per_router']} / {r['silent_messages_per_router']}"
            f" | {r['spf_ms']} ms | {r['state_kib_per_router']} KiB |"
        )
    return "\n".join(lines)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
