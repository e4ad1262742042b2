"""Podman's network backends: a site runs on netavark (every podman test here), and on a
Podman that uses CNI, where a site's containers cannot find the router by name, `site
init` refuses in one line with the fix and leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import fails
from tests.engines import provision

CNI_CONF = provision.CONTAINERS_CONF + '[network]\nnetwork_backend = "cni"\n'


@pytest.fixture
def cni_podman(provisioned: Path | None) -> Iterator[tuple[str, list[str]]]:
    """A rootful Podman API service on the CNI backend, with storage of its own (switching
    a Podman's backend needs an empty store): its endpoint and its podman command."""
    if provisioned is None:
        pytest.skip("a second Podman service needs root (the test setup provisions it)")
    folder = provision.WORK / "cni"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    conf = folder / "containers.conf"
    conf.write_text(CNI_CONF)
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    podman = ["podman", "--root", str(folder / "root"), "--runroot", str(folder / "run"),
              "--network-config-dir", str(folder / "networks")]  # fmt: skip
    socket_path = folder / "podman.sock"
    service = subprocess.Popen(
        [*podman, "system", "service", "--time", "0", f"unix://{socket_path}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not socket_path.exists():
            assert service.poll() is None, "the CNI podman service exited"
            assert time.monotonic() < deadline, "the CNI podman service did not come up"
            time.sleep(0.1)
        backend = subprocess.run(
            [*podman, "info", "--format", "{{.Host.NetworkBackend}}"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert backend == "cni"
        yield f"unix://{socket_path}", podman
    finally:
        service.terminate()
        service.wait(20)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_podman_on_cni_is_refused_with_the_fix(
    cni_podman: tuple[str, list[str]], skupper_home: Path
) -> None:
    endpoint, podman = cni_podman
    error = fails("site", "init", "-n", "cni", "--platform", "podman",
                  "--container-endpoint", endpoint)  # fmt: skip
    assert error.startswith("podman here uses the CNI network backend")
    assert "apt install netavark aardvark-dns" in error
    assert not (skupper_home / "namespaces" / "cni").exists()
    env = {**os.environ, "CONTAINERS_CONF": str(provision.WORK / "cni" / "containers.conf")}
    made = subprocess.run(
        [*podman, "ps", "-aq"], env=env, capture_output=True, text=True, check=True
    ).stdout + subprocess.run(
        [*podman, "network", "ls", "-q", "--filter", "name=skupper"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert made.strip() == ""
