"""The quadlet units work: on rootful Podman (quadlet is for Podman 4.4 and newer), a
spoke site linked to a hub is written as quadlet units, the units go through Podman 5's
quadlet generator (dry run), the spoke's containers are removed as after a reboot, and
the command lines the generator produced bring the spoke back: its router answers, its
link to the hub comes up again and a flow through its listener reaches the hub's backend.
Then the units' stop command lines remove the containers again.

There is no systemd here, so the services' command lines run the way systemd would run
them, in dependency order (After=): specifiers expanded, Environment= set, each
ExecStart to completion (the containers run detached, `-d`). The podman CLI runs against
the same storage as the test's podman service (rootful: /var/lib/containers) with the
test setup's CONTAINERS_CONF.

The hub accepts links on `host.containers.internal`, which Podman resolves in the spoke's
containers to the gateway of the spoke's own network: the name survives the network being
made again by its unit.

Docker's (and older Podman's) unit is one service that starts the site's containers by
label: after a reboot they are there, stopped, and its ExecStart brings the spoke back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from skupper_podman.engines.base import LABEL_SITE_ID
from skupper_podman.paths import namespace_paths
from skupper_podman.platforms.container import ContainerPlatform
from tests.engines.conftest import Target
from tests.engines.test_sites import (
    fetch,
    run_test_container,
    site_labels,
    status,
    wait_for,
)
from tests.ports import free_port
from tests.system.helpers import quadlet_dryrun, sections, values

HOST_ALIAS = "host.containers.internal"
BACKEND_PORT = 8080
BLOB_BYTES = 2 * 1024 * 1024
BACKEND_SCRIPT = (
    "mkdir -p /tmp/www && cd /tmp/www && "
    f"head -c {BLOB_BYTES} /dev/urandom > blob && sha256sum blob | cut -d' ' -f1 > blob.sha && "
    f"exec python3 -m http.server {BACKEND_PORT}"
)
# The one flag quadlet adds that needs systemd (sandbox workaround, test only):
# --cgroups=split puts conmon in the cgroup systemd delegated to the service (Delegate=yes);
# without systemd, Podman fails with 'could not find cgroup mount in "/proc/self/cgroup"'.
# --sdnotify=conmon stays: without systemd's NOTIFY_SOCKET there is simply no one to tell.
SYSTEMD_ONLY_FLAGS = ("--cgroups=split",)


def expand(line: str, unit: str, runtime: Path) -> str:
    """The specifiers our generated units use, as systemd expands them for a system
    service: %t the runtime folder, %N the unit name without suffix, %n the unit name."""
    known = {"%": "%", "t": str(runtime), "N": unit.removesuffix(".service"), "n": unit}

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        assert key in known, f"specifier %{key} in {unit}: {line}"
        return known[key]

    return re.sub(r"%(.)", one, line)


def command_line(line: str, unit: str, runtime: Path) -> tuple[list[str], bool]:
    """An Exec*= value as argv, and whether its failure is ignored (the `-` prefix)."""
    ignore_failure = line.startswith("-")
    command = expand(line.lstrip("-@+!:"), unit, runtime)
    argv = [word.replace("$$", "$") for word in shlex.split(command)]
    return [word for word in argv if word not in SYSTEMD_ONLY_FLAGS], ignore_failure


def older_podman(argv: list[str], env: dict[str, str]) -> list[str] | None:
    """`podman network|volume create --ignore` for the Podman 4.3 of these machines.

    The generator (Podman 5) writes `--ignore` (no error when the network or volume
    exists); Podman 4.3 has no such flag (it came with 4.4, with quadlet), while on a real
    host quadlet and podman are one version. Same meaning here: an existing one is kept
    (None: nothing to run), else it is created without the flag (sandbox workaround, test
    only)."""
    if argv[1:3] not in (["network", "create"], ["volume", "create"]) or "--ignore" not in argv:
        return argv
    exists = subprocess.run([argv[0], argv[1], "exists", argv[-1]], env=env, check=False)
    return None if exists.returncode == 0 else [word for word in argv if word != "--ignore"]


def run_exec(services: dict[str, str], unit: str, key: str, runtime: Path) -> None:
    """Run every `key` line of `unit` as systemd would (its Environment= set)."""
    env = dict(os.environ)
    for assignment in values(services[unit], "Service", "Environment"):
        name, _, value = expand(assignment, unit, runtime).partition("=")
        env[name] = value
    for line in values(services[unit], "Service", key):
        generated, ignore_failure = command_line(line, unit, runtime)
        argv = older_podman(generated, env)
        if argv is None:
            continue
        result = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0 or ignore_failure, (
            f"{unit} {key} failed ({result.returncode}): {shlex.join(argv)}\n{result.stderr}"
        )


def start_order(services: dict[str, str]) -> list[str]:
    """The services in the order systemd starts them (After= among themselves); a unit
    that Requires= another must also be ordered after it."""
    after = {}
    for unit, text in services.items():
        unit_lines = sections(text).get("Unit", [])
        ordered = {v for k, v in unit_lines if k == "After" and v in services}
        required = {v for k, v in unit_lines if k == "Requires" and v in services}
        assert required <= ordered, (unit, required - ordered)
        after[unit] = ordered
    order: list[str] = []
    while len(order) < len(services):
        ready = sorted(u for u in services if u not in order and after[u] <= set(order))
        assert ready, f"an ordering cycle among {sorted(set(services) - set(order))}"
        order.append(ready[0])
    return order


def site_containers(target: Target, site_id: str) -> list[str]:
    listed = target.tool("ps", "-a", "--filter", f"label={LABEL_SITE_ID}={site_id}",
                         "--format", "{{.Names}}")  # fmt: skip
    return listed.split()


def blob_intact(port: int) -> bool:
    expected = fetch(port, "blob.sha").decode().strip()
    data = fetch(port, "blob")
    return len(data) == BLOB_BYTES and hashlib.sha256(data).hexdigest() == expected


def linked_spoke(target: Target, home: Path) -> int:
    """A hub with a connector to a backend container, a spoke linked to it with a
    listener; returns the listener's port once a flow went through."""
    target.cli("site", "init", "hub", "-n", "hub", "--link-access", "--port", str(free_port()),
               "--grant-port", str(free_port()), "--subject-alternative-name", HOST_ALIAS,
               home=home)  # fmt: skip
    run_test_container(
        target, "skupper-hub", "units-backend", "-d", target.base_image, "sh", "-c", BACKEND_SCRIPT
    )
    target.cli("connector", "create", "blob", str(BACKEND_PORT), "--routing-key", "blob",
               "--host", "units-backend", "-n", "hub", home=home)  # fmt: skip
    link_file = home / "link.yaml"
    link_file.write_text(target.cli("link", "generate", "--host", HOST_ALIAS, "-n", "hub",
                                    home=home).stdout)  # fmt: skip
    target.cli("site", "init", "spoke", "-n", "spoke", home=home)
    target.cli("link", "create", str(link_file), "--name", "to-hub", "-n", "spoke", home=home)
    listener_port = free_port()
    target.cli("listener", "create", "blob", str(listener_port), "--routing-key", "blob",
               "-n", "spoke", home=home)  # fmt: skip
    wait_for("link up", lambda: status(target, home, "link", "status", "-n", "spoke")[0]["up"])
    assert wait_for("a flow before", lambda: blob_intact(listener_port))
    return listener_port


@pytest.mark.parametrize("target", ["podman"], indirect=True)
def test_quadlet_units_bring_the_spoke_back(
    target: Target, quadlet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = target.new_home()
    listener_port = linked_spoke(target, home)

    units = tmp_path / "quadlet"
    target.cli("system", "generate", "--unit-type", "quadlet", "--output", str(units),
               "-n", "spoke", home=home)  # fmt: skip
    services = quadlet_dryrun(quadlet, units, user=False)
    order = start_order(services)
    assert order == [
        "skupper-spoke-network.service",
        "skupper-spoke-site-volume.service",
        "skupper-spoke-router.service",
        "skupper-spoke-listener-blob.service",
    ]

    # As after a reboot: nothing of the spoke runs (the CLI's platform stop removes its
    # containers and its network).
    site_id = site_labels(target, home, "spoke")[LABEL_SITE_ID]
    monkeypatch.setenv("SKUPPER_PODMAN_HOME", str(home))
    ContainerPlatform("podman").stop(namespace_paths("spoke"))
    assert site_containers(target, site_id) == []
    spoke_status = ("site", "status", "-n", "spoke")
    assert target.cli(*spoke_status, home=home, check=False).returncode == 1

    runtime = tmp_path / "run"  # systemd's %t of system services (/run)
    runtime.mkdir()
    for unit in order:
        run_exec(services, unit, "ExecStart", runtime)
    assert sorted(site_containers(target, site_id)) == [
        "skupper-spoke-listener-blob",
        "skupper-spoke-router",
    ]
    wait_for("the router answering",
             lambda: target.cli(*spoke_status, home=home, check=False).returncode == 0)  # fmt: skip
    wait_for("link up again",
             lambda: status(target, home, "link", "status", "-n", "spoke")[0]["up"])  # fmt: skip
    assert wait_for("a flow through the units' listener", lambda: blob_intact(listener_port))

    for unit in reversed(order):
        run_exec(services, unit, "ExecStop", runtime)
        run_exec(services, unit, "ExecStopPost", runtime)
    assert site_containers(target, site_id) == []
    result = target.cli(*spoke_status, "-o", "json", home=home, check=False)
    assert result.returncode == 1, result.stdout
    assert json.loads(result.stdout)["routerAnswering"] is False


@pytest.mark.parametrize("target", ["docker"], indirect=True)
def test_engine_service_unit_brings_the_spoke_back(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Docker (and Podman before 4.4): one service that starts the site's containers by
    label. After a reboot the containers are there, stopped; its ExecStart starts them."""
    # The unit's docker CLI talks to the default socket; the tests' dockerd has its own.
    monkeypatch.setenv("DOCKER_HOST", target.endpoint)
    home = target.new_home()
    listener_port = linked_spoke(target, home)
    units = tmp_path / "service"
    target.cli("system", "generate", "--unit-type", "service", "--output", str(units),
               "-n", "spoke", home=home)  # fmt: skip
    (unit,) = units.glob("*.service")
    services = {unit.name: unit.read_text()}

    site_id = site_labels(target, home, "spoke")[LABEL_SITE_ID]
    names = site_containers(target, site_id)
    assert sorted(names) == ["skupper-spoke-listener-blob", "skupper-spoke-router"]
    target.tool("stop", "-t", "2", *names)  # as a reboot leaves them
    spoke_status = ("site", "status", "-n", "spoke")
    assert target.cli(*spoke_status, home=home, check=False).returncode == 1

    runtime = tmp_path / "run"
    runtime.mkdir()
    run_exec(services, unit.name, "ExecStart", runtime)
    wait_for("the router answering",
             lambda: target.cli(*spoke_status, home=home, check=False).returncode == 0)  # fmt: skip
    wait_for("link up again",
             lambda: status(target, home, "link", "status", "-n", "spoke")[0]["up"])  # fmt: skip
    assert wait_for("a flow through the unit's containers", lambda: blob_intact(listener_port))
    run_exec(services, unit.name, "ExecStop", runtime)
    result = target.cli(*spoke_status, "-o", "json", home=home, check=False)
    assert result.returncode == 1, result.stdout
