"""The history of ``bench/versus.py`` runs: ours / skupper-router per figure, per commit.

Reads every ``bench/results/<time>-<commit>.json`` that versus.py wrote and draws one panel
per position (2 routers, 3 interior, edge - hub - edge): the ratio of each figure (median of
the run's per-round ratios) by run, the bar of 1.0 marked. Writes ``bench/results/history.png``
and prints the same figures as a table.

    python bench/history.py [--out FILE]      (needs matplotlib: pip install '.[bench]')
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
# figure -> True if more is better
FIGURES = {
    "rr1": True,
    "rr50": True,
    "connect": True,
    "connect32": True,
    "redis_get": True,
    "redis_set": True,
    "gbits": True,
    "rr50_p99": False,
    "rr50_cpu": False,
    "rss_idle": False,
}


def runs() -> list[tuple[str, dict[str, Any]]]:
    """(label, results) of every versus.py run, oldest first."""
    found = []
    for path in sorted(RESULTS.glob("2*.json")):
        stamp, _, commit = path.stem.partition("-")
        data = json.loads(path.read_text())
        if "results" in data:
            found.append((f"{stamp[4:8]} {stamp[9:13]} {commit}", data["results"]))
    return found


def ratio(position: dict[str, Any], figure: str) -> float | None:
    """Median over rounds of ours / skupper-router (for lower-is-better figures: sk / ours,
    so that above 1.0 is always ours ahead)."""
    ours, theirs = position.get("ours", []), position.get("sk", [])
    pairs = [
        (o[figure], s[figure])
        for o, s in zip(ours, theirs, strict=False)
        if o.get(figure) and s.get(figure)
    ]
    if not pairs:
        return None
    if FIGURES[figure]:
        return float(statistics.median(o / s for o, s in pairs))
    return float(statistics.median(s / o for o, s in pairs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "history.png")
    args = parser.parse_args()
    history = runs()
    if not history:
        raise SystemExit(f"no versus.py results in {RESULTS}")
    positions = sorted({p for _, results in history for p in results})
    for position in positions:
        print(f"\n{position}: ours / skupper-router (above 1.0: ours ahead)")
        print("run".ljust(22) + "".join(f.rjust(10) for f in FIGURES))
        for label, results in history:
            cells = [ratio(results[position], f) if position in results else None for f in FIGURES]
            print(label.ljust(22) + "".join(f"{c:10.2f}" if c else " " * 10 for c in cells))
    plot(history, positions, args.out)
    print(f"\nwritten to {args.out}")


def plot(history: list[tuple[str, dict[str, Any]]], positions: list[str], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("the plot needs matplotlib: pip install '.[bench]'") from None
    figure, axes = plt.subplots(1, len(positions), figsize=(6 * len(positions), 4.5), sharey=True)
    labels = [label for label, _ in history]
    for axis, position in zip(axes if len(positions) > 1 else [axes], positions, strict=True):
        for name in FIGURES:
            values = [
                ratio(results[position], name) if position in results else None
                for _, results in history
            ]
            axis.plot(labels, values, marker="o", label=name)
        axis.axhline(1.0, color="black", linewidth=1)
        axis.set_title(position)
        axis.tick_params(axis="x", labelrotation=45)
    axes_list = axes if len(positions) > 1 else [axes]
    axes_list[0].set_ylabel("ours / skupper-router")
    axes_list[-1].legend(loc="upper left", bbox_to_anchor=(1, 1))
    figure.tight_layout()
    figure.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
