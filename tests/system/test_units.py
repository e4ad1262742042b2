"""`system generate|install|uninstall`: the units pass the real tools (Podman 5's quadlet
generator, systemd-analyze verify) and the linux unit's command lines bring the site back.

There is no systemd here, so the linux unit is run the way systemd would run it: its
ExecStart in its WorkingDirectory with its output appended to the log, ExecReload with
$MAINPID, SIGTERM (its KillSignal) and ExecStopPost. The quadlet units' command lines are
checked against the container the podman platform makes; tests/engines/test_units_run.py
runs them on a real Podman engine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from skupper_podman import resources as res
from skupper_podman.paths import namespace_paths
from skupper_podman.platforms.container import FACTS_FILE, ContainerFacts
from skupper_podman.platforms.linux import LinuxPlatform
from skupper_podman.site.store import RuntimeFacts, SiteStore
from skupper_podman.site.unit_values import unit_values
from skupper_podman.units import UnitKind, generate_units, write_units
from skupper_podman.units.render import QUADLET_MIN_PODMAN, podman_version
from tests.cli_helpers import fails, ok, run
from tests.ports import free_port
from tests.router.peers import echo_once
from tests.system.helpers import (
    exec_argv,
    link_up,
    make_network,
    quadlet_dryrun,
    values,
    verify,
    wait_for,
)

MANAGEMENT_PORT = 40001
SITE_ID = "0123456789abcdef"
IMAGE = "skupper-podman-router:0.1.0"


@pytest.fixture
def container_site(skupper_home: Path) -> Iterator[SiteStore]:
    """The files of a podman site named pod (link access, one listener) as
    `site init --platform podman` leaves them; no engine runs here, and unit generation
    reads nothing else."""
    store = SiteStore(namespace_paths("pod"))
    store.write(
        res.Site(metadata=res.Metadata(name="pod"), spec=res.SiteSpec(link_access="default"))
    )
    roles = [
        res.RouterAccessRole(name="inter-router", port=55671),
        res.RouterAccessRole(name="edge", port=45671),
    ]
    access = res.RouterAccessSpec(roles=roles, tls_credentials="skupper-site-server")
    store.write(res.RouterAccess(metadata=res.Metadata(name="skupper-router"), spec=access))
    listener = res.ListenerSpec(routing_key="db", port=5432)
    store.write(res.Listener(metadata=res.Metadata(name="db"), spec=listener))
    store.write_facts(RuntimeFacts("podman", MANAGEMENT_PORT))
    facts = ContainerFacts(
        "podman", "unix:///run/podman/podman.sock", "skupper-podman-router:0.1.0", SITE_ID
    )
    (store.paths.runtime / FACTS_FILE).write_text(facts.to_json())
    yield store
    # Nothing runs: remove the files before the shared teardown asks an engine to stop it.
    shutil.rmtree(store.paths.root)


@pytest.mark.parametrize("user", [False, True], ids=["rootful", "rootless"])
def test_quadlet_units_pass_the_generator_and_verify(
    container_site: SiteStore, quadlet: Path, systemd_analyze: str, tmp_path: Path, user: bool
) -> None:
    units = generate_units(unit_values(container_site, rootless=user), kind=UnitKind.QUADLET)
    sources = tmp_path / "quadlet"
    write_units(units, sources)
    assert sorted(p.name for p in sources.iterdir()) == [
        "skupper-pod-listener-db.container",
        "skupper-pod-router.container",
        "skupper-pod-site.volume",
        "skupper-pod.network",
    ]
    services = quadlet_dryrun(quadlet, sources, user=user)
    assert sorted(services) == [
        "skupper-pod-listener-db.service",
        "skupper-pod-network.service",
        "skupper-pod-router.service",
        "skupper-pod-site-volume.service",
    ]
    generated = tmp_path / "generated"
    generated.mkdir()
    for name, text in services.items():
        (generated / name).write_text(text)
    verify(systemd_analyze, sorted(generated.iterdir()))

    # The router service runs the container the podman platform makes.
    (start,) = values(services["skupper-pod-router.service"], "Service", "ExecStart")
    argv = exec_argv(start)
    assert argv[:2] == ["/usr/bin/podman", "run"] or argv[1] == "run"
    joined = " ".join(argv)
    for expected in (
        "--name skupper-pod-router",
        "--network skupper-pod",
        "-v skupper-pod-site:/site:ro",
        f"--publish 127.0.0.1:{MANAGEMENT_PORT}:{MANAGEMENT_PORT}",
        "--publish 0.0.0.0:55671:55671",
        "--publish 0.0.0.0:45671:45671",
        f"--label io.skupper-podman.site-id={SITE_ID}",
        "--label io.skupper-podman.component=router",
        "--network-alias skupper-router",
    ):
        assert expected in joined, (expected, joined)
    assert argv[-1] == "localhost/skupper-podman-router:0.1.0"
    # the grant server records redemptions: its folder is the one writable mount
    grants = container_site.paths.root / "grants"
    assert f"-v {grants.resolve()}:/site/grants:rw" in joined, joined
    if user:
        assert f"--user {os.getuid()}:{os.getgid()}" in joined
        assert "--userns keep-id" in joined
    (volume,) = values(services["skupper-pod-site-volume.service"], "Service", "ExecStart")
    assert f"--opt device={container_site.paths.root.resolve()}" in volume
    (forwarder,) = values(services["skupper-pod-listener-db.service"], "Service", "ExecStart")
    assert forwarder.endswith("skupper-forward 5432 skupper-pod-router 5432")
    assert "--publish 127.0.0.1:5432:5432" in forwarder
    assert values(services["skupper-pod-listener-db.service"], "Unit", "Requires")[0] == (
        "skupper-pod-router.service"
    )


@pytest.mark.parametrize("engine", ["podman", "docker"])
def test_container_service_units_verify(
    container_site: SiteStore, systemd_analyze: str, tmp_path: Path, engine: str
) -> None:
    facts = ContainerFacts(engine, "unix:///x.sock", "skupper-podman-router:0.1.0", SITE_ID)
    (container_site.paths.runtime / FACTS_FILE).write_text(facts.to_json())
    container_site.write_facts(RuntimeFacts(engine, MANAGEMENT_PORT))
    out = tmp_path / "units"
    ok("system", "generate", "-n", "pod", "--unit-type", "service", "--output", str(out))
    (unit,) = out.iterdir()
    assert unit.name == "skupper-pod.service"
    verify(systemd_analyze, [unit])
    (start,) = values(unit.read_text(), "Service", "ExecStart")
    assert f"label=io.skupper-podman.site-id={SITE_ID}" in start


def test_old_podman_falls_back_to_a_service(
    container_site: SiteStore, systemd_analyze: str, tmp_path: Path
) -> None:
    version = podman_version()
    if version is None:
        pytest.skip("podman is not installed")
    out = tmp_path / "units"
    result = ok("system", "generate", "-n", "pod", "--output", str(out))
    names = sorted(p.name for p in out.iterdir())
    if version >= QUADLET_MIN_PODMAN:
        assert "skupper-pod-router.container" in names
        return
    shown = ".".join(str(part) for part in version)
    assert result.stderr.startswith(f"note: podman {shown} has no quadlet (it came with 4.4)")
    assert names == ["skupper-pod.service"]
    verify(systemd_analyze, [out / "skupper-pod.service"])


def test_verify_catches_a_broken_unit(systemd_analyze: str, tmp_path: Path) -> None:
    """The check above means something: systemd-analyze refuses a bad unit."""
    broken = tmp_path / "broken.service"
    broken.write_text("[Service]\nExecStart=relative/program\n")
    result = subprocess.run(
        [systemd_analyze, "verify", str(broken)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 or result.stderr.strip()


def test_quadlet_only_for_podman(router_available: None) -> None:
    ok("site", "init", "solo", "-n", "solo", "--platform", "linux")
    message = fails("system", "generate", "-n", "solo", "--unit-type", "quadlet")
    assert message == "quadlet units are for the podman platform; this site runs on linux"


@pytest.mark.skipif(
    Path("/run/systemd/system").is_dir(), reason="systemd runs here: install would be real"
)
def test_install_without_systemd_is_one_clear_line(router_available: None) -> None:
    ok("site", "init", "solo", "-n", "solo", "--platform", "linux")
    message = fails("system", "install", "-n", "solo")
    assert message.endswith(
        ": cannot install units; 'skupper-podman system generate --output DIR' writes them "
        "for a host that has systemd"
    )
    assert "systemd" in message.split(":")[0] or "systemctl" in message.split(":")[0]
    assert ok("system", "uninstall", "-n", "solo").stdout.strip() == (
        "no units of namespace solo installed"
    )


def test_linux_unit_brings_the_site_back(
    router_available: None, systemd_analyze: str, tmp_path: Path
) -> None:
    network = make_network(tmp_path, "spoke")
    wait_for(lambda: link_up("spoke"), "the link did not come up")
    wait_for(lambda: network.echo(b"before") == b"before", "no flow before")
    out = tmp_path / "units"
    ok("system", "generate", "-n", "spoke", "--output", str(out))
    unit = out / "skupper-spoke.service"
    verify(systemd_analyze, [unit])
    text = unit.read_text()

    paths = namespace_paths("spoke")
    LinuxPlatform().stop(paths)  # as after a reboot: nothing runs
    assert run("site", "status", "-n", "spoke").exit_code == 1

    (start,) = values(text, "Service", "ExecStart")
    (workdir,) = values(text, "Service", "WorkingDirectory")
    (stdout,) = values(text, "Service", "StandardOutput")
    assert stdout.startswith("append:")
    with open(stdout.removeprefix("append:"), "ab") as log:
        process = subprocess.Popen(
            exec_argv(start),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: run("site", "status", "-n", "spoke").exit_code == 0, "no router")
        assert paths.pid_file.read_text().strip() == str(process.pid)
        wait_for(lambda: link_up("spoke"), "the link did not come back")
        wait_for(lambda: network.echo(b"after") == b"after", "no flow after")
        # The CLI reloads this router like its own: a new listener works at once.
        second = free_port()
        created = ok("listener", "create", "again", str(second), "--routing-key", "echo",
                     "-n", "spoke")  # fmt: skip
        assert "not running" not in created.stderr
        wait_for(lambda: _echo(second, b"second") == b"second", "no flow on the new listener")
        (reload,) = values(text, "Service", "ExecReload")
        argv = [w.replace("$MAINPID", str(process.pid)) for w in exec_argv(reload)]
        subprocess.run(argv, check=True)
        wait_for(lambda: network.echo(b"reloaded") == b"reloaded", "no flow after reload")
    finally:
        process.send_signal(signal.SIGTERM)  # systemd's stop: KillSignal to the main pid
        code = process.wait(timeout=15)
    assert code == 0
    for line in values(text, "Service", "ExecStopPost"):
        subprocess.run(exec_argv(line), check=True)
    assert not paths.pid_file.exists()
    assert run("site", "status", "-n", "spoke").exit_code == 1


def _echo(port: int, payload: bytes) -> bytes | None:
    try:
        return echo_once(port, payload, timeout=5)
    except OSError:
        return None


@pytest.mark.parametrize("user", [False, True], ids=["rootful", "rootless"])
def test_linux_unit_targets(
    router_available: None, systemd_analyze: str, tmp_path: Path, user: bool
) -> None:
    ok("site", "init", "solo", "-n", "solo", "--platform", "linux")
    units = generate_units(unit_values(SiteStore(namespace_paths("solo")), rootless=user))
    (unit,) = write_units(units, tmp_path)
    verify(systemd_analyze, [unit])
    target = "default.target" if user else "multi-user.target"
    assert values(unit.read_text(), "Install", "WantedBy") == [target]
    (start,) = values(unit.read_text(), "Service", "ExecStart")
    argv = exec_argv(start)
    assert argv[-3].endswith("/skupper-router") and argv[-2] == "--config"
