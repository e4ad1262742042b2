"""Each reliability test's figures: printed, and written to the file named by
RELIABILITY_REPORT (``scripts/reliability`` makes one table of them)."""

from __future__ import annotations

import os


def report(figures: str) -> None:
    print(figures)
    path = os.environ.get("RELIABILITY_REPORT")
    if path:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0].split("::")[-1]
        with open(path, "a") as stream:
            stream.write(f"{test}\t{figures}\n")
