"""Shared fixtures: every test gets its own SKUPPER_PODMAN_HOME, and any site a test
started is deleted afterwards so no router process outlives its test."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from skupper_podman.paths import home
from skupper_podman.site import delete_site
from tests import leaks
from tests.router import peers
from tests.routernet import RouterNet
from tests.unit_tools import quadlet, systemd_analyze

__all__ = ["quadlet", "systemd_analyze"]  # fixtures of tests/system and tests/engines

# The fast tests (``-m fast``, about 25 s): the sans-I/O core, codecs, models and output,
# no router process and no engine; README.md says how they are run 100 times in a row.
FAST = (
    "tests/compat/",
    "tests/console/test_view.py",
    "tests/cli/test_output.py",
    "tests/cli/test_topology.py",
    "tests/router/test_core.py",
    "tests/router/test_engine.py",
    "tests/router/test_flow_memory.py",
    "tests/router/test_http_observer.py",
    "tests/router/test_known_routers.py",
    "tests/router/test_message.py",
    "tests/router/test_routing.py",
    "tests/router/test_routing_mesh.py",
    "tests/router/test_streams.py",
    "tests/router/test_tcp.py",
    "tests/router/test_tcp_adaptor.py",
    "tests/router/test_vanflow.py",
    "tests/test_certs.py",
    "tests/test_grant_records.py",
    "tests/test_import_graph.py",
    "tests/test_resources.py",
    "tests/test_routerconfig.py",
    "tests/test_tokens.py::test_token_shape",
)
ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = f"{Path(item.fspath).relative_to(ROOT)}::{item.name}"
        if name.startswith(FAST):
            item.add_marker(pytest.mark.fast)


@pytest.fixture(autouse=True)
def close_backends() -> Iterator[None]:
    """Backends a test made serve until it ends: closed here if it did not close them."""
    yield
    for backend in list(peers.OPEN_BACKENDS):
        backend.close()


@pytest.fixture(autouse=True)
def skupper_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """Sites made by the test are deleted after it; if it failed, their router logs are
    printed first (a fault is found from them, never retried away)."""
    folder = tmp_path / "skupper-home"
    monkeypatch.setenv("SKUPPER_PODMAN_HOME", str(folder))
    monkeypatch.delenv("SKUPPER_PODMAN_DEBUG", raising=False)
    yield folder
    namespaces = home() / "namespaces"
    if not namespaces.is_dir():
        return
    report = getattr(request.node, "rep_call", None)
    for namespace in sorted(namespaces.iterdir()):
        log = namespace / "runtime" / "router.log"
        if report is not None and report.failed and log.is_file():
            print(f"--- router log of site {namespace.name} ---")
            print(log.read_text(errors="replace")[-6000:])
        delete_site(namespace.name)


@pytest.fixture
def net(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RouterNet]:
    """A network of router processes (``tests/routernet.py``), stopped at the end with
    their logs printed if the test failed."""
    network = RouterNet(tmp_path)
    yield network
    network.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(network.logs())


@pytest.fixture
def router_available() -> None:
    """Tests that start real sites need the router (skupper_podman/router/main.py)."""
    if importlib.util.find_spec("skupper_podman.router.main") is None:
        pytest.skip("the router (skupper_podman.router.main) is not there yet")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """What runs when the test starts, after its fixtures are set up (engines and other
    session-wide things started by fixtures are not the test's)."""
    item.leak_baseline = (leaks.threads(), leaks.children())  # type: ignore[attr-defined]
    yield


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """After its fixtures are torn down, a passed test must have left nothing running
    that it started (tests/leaks.py): a leak fails the test that made it."""
    yield
    baseline = getattr(item, "leak_baseline", None)
    report = getattr(item, "rep_call", None)
    if baseline is None or report is None or not report.passed:
        return
    left = leaks.left_behind(*baseline)
    if left:
        pytest.fail("left running after the test: " + "; ".join(sorted(left)), pytrace=False)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Each phase's report on the test item (``item.rep_call``): fixtures that print
    router logs look at it to know whether the test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port with a real listening socket on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]
