"""Real routers for driver tests: router processes with real mutual TLS on loopback
(``tests/routernet.py``), stopped at the end with their logs reported on failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.routernet import RouterNet


@pytest.fixture
def net(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RouterNet]:
    network = RouterNet(tmp_path)
    yield network
    network.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(network.logs())


os.environ.setdefault("PYTHONUNBUFFERED", "1")
