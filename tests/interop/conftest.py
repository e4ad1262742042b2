"""Interop tests: our routers beside the reference skupper-router in every position.

They need the reference router (``tests/reference.py``). Without it they skip on a
user's machine with the reason, but never in CI (``CI=true``): there the test setup
installs it and a missing router is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import reference
from tests.routernet import RouterNet


@pytest.fixture(scope="session")
def skrouterd() -> Path:
    reason = reference.missing_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the interop tests: {reason}")
        pytest.skip(reason)
    binary = reference.skrouterd()
    assert binary is not None
    return binary


@pytest.fixture
def net(skrouterd: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RouterNet]:
    network = RouterNet(tmp_path)
    yield network
    network.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(network.logs(tail=6000))
