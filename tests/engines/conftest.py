"""Real engines for the engine tests: rootful Podman, rootless Podman (an unprivileged
user made here) and Docker, each with the local base image and our router image built
once per session. `target` is parametrized over the three.

When CI=true or as root, everything is installed and started here (provision.py) and
stopped at session end; otherwise an engine that does not answer is skipped with the
reason. With CI=true nothing is ever skipped: a missing engine fails the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from skupper_podman import engines, image
from skupper_podman.engines.base import Engine
from tests.engines import provision

TEST_LABEL = "io.skupper-podman.test"
ENGINE_TARGETS = ("podman", "rootless", "docker")


@dataclass
class Target:
    """One engine to test against, and how to run the CLI and the engine's own CLI."""

    name: str
    engine: str
    endpoint: str
    base_image: str
    cli_command: list[str]
    cli_env: dict[str, str]
    tool_command: list[str]  # podman/docker CLI talking to `endpoint`
    home_owner: str | None = None
    homes: list[Path] = field(default_factory=list)

    def cli(self, *args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**self.cli_env, "SKUPPER_PODMAN_HOME": str(home)}
        if self.home_owner is None:
            command = [*self.cli_command, *args]
            full_env: dict[str, str] | None = {**os.environ, **env}
        else:
            command = provision.as_user(self.home_owner, env, *self.cli_command, *args)
            full_env = None
        result = subprocess.run(
            command, capture_output=True, text=True, env=full_env, timeout=300, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"skupper-podman {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.strip()}\n{result.stdout}"
            )
        return result

    def tool(self, *args: str) -> str:
        return provision.run(*self.tool_command, *args, timeout=300)

    def connect(self) -> Engine:
        return engines.connect(self.engine, self.endpoint)

    def new_home(self) -> Path:
        home = provision.WORK / "homes" / f"{self.name}-{uuid.uuid4().hex[:8]}"
        home.mkdir(parents=True)
        if self.home_owner is not None:
            shutil.chown(home, self.home_owner, self.home_owner)
        self.homes.append(home)
        return home


def _unavailable(reason: str) -> None:
    if provision.in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def machine() -> Iterator[None]:
    """This session's turn with the machine's engines (see provision.session_lock)."""
    if not provision.may_provision():
        yield  # the user's own engines: nothing of ours to share
        return
    with provision.session_lock():
        yield


@pytest.fixture(scope="session")
def services(machine: None) -> Iterator[provision.Services]:
    started = provision.Services()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def provisioned(machine: None) -> Path | None:
    """Packages, containers.conf and the base tarball (None when we may not install)."""
    if not provision.may_provision():
        return None
    try:
        provision.install_debs()
        conf = provision.containers_conf()
        os.environ["CONTAINERS_CONF"] = str(conf)
        provision.base_tarball()
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        _unavailable(f"cannot install the container engines: {error}")
    return provision.WORK


def _venv_cli() -> list[str]:
    return [str(Path(sys.executable).parent / "skupper-podman")]


def _build_router_image(target: Target) -> None:
    """Our image, built from this session's code. The image it replaces is removed:
    sessions would otherwise pile up untagged copies (rootless Podman's vfs storage keeps
    a full copy of every layer, over 1 GB a session, and slows down as it grows)."""
    replaced = _image_id(target, image.default_image())
    home = target.new_home()
    target.cli(
        "image", "build", "--platform", target.engine, "--base-image", target.base_image, home=home
    )
    if replaced and replaced != _image_id(target, image.default_image()):
        # still used by a container someone left: then it stays
        subprocess.run([*target.tool_command, "rmi", replaced], capture_output=True, check=False)


def _image_id(target: Target, reference: str) -> str | None:
    found = subprocess.run(
        [*target.tool_command, "image", "inspect", "--format", "{{.Id}}", reference],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


@pytest.fixture(scope="session")
def podman_target(provisioned: Path | None, services: provision.Services) -> Target:
    if provisioned is None:
        endpoint = engines.default_endpoint("podman")
        if engines.answering_engine(endpoint) != "podman":
            _unavailable(f"podman does not answer at {endpoint}")
        return Target(
            "podman",
            "podman",
            endpoint,
            provision.BASE_IMAGE,
            _venv_cli(),
            {},
            ["podman", "--url", endpoint],
        )
    socket = provisioned / "podman.sock"
    endpoint = f"unix://{socket}"
    env = {**os.environ}
    if engines.answering_engine(endpoint) != "podman":
        socket.unlink(missing_ok=True)
        services.start(
            ["podman", "system", "service", "--time=0", endpoint], provisioned / "podman.log", env
        )
        provision.wait_for_socket(socket, "podman")
    tool = ["podman", "--url", endpoint]
    target = Target(
        "podman",
        "podman",
        endpoint,
        provision.BASE_IMAGE,
        _venv_cli(),
        {"CONTAINER_ENDPOINT": endpoint},
        tool,
    )
    if not target.connect().has_image(provision.BASE_IMAGE):
        provision.run("podman", "import", str(provision.base_tarball()), provision.BASE_IMAGE)
    _build_router_image(target)
    return target


@pytest.fixture(scope="session")
def docker_target(provisioned: Path | None, services: provision.Services) -> Target:
    default = engines.default_endpoint("docker")
    if provisioned is None or engines.answering_engine(default) == "docker":
        if engines.answering_engine(default) != "docker":
            _unavailable(f"docker does not answer at {default}")
        endpoint = default
    else:
        socket = provisioned / "docker.sock"
        endpoint = f"unix://{socket}"
        if engines.answering_engine(endpoint) != "docker":
            socket.unlink(missing_ok=True)
            services.start(
                ["dockerd", "-H", endpoint, "--pidfile", str(provisioned / "docker.pid")],
                provisioned / "dockerd.log",
                {**os.environ},
            )
            provision.wait_for_socket(socket, "docker")
    tool = ["docker", "-H", endpoint]
    target = Target(
        "docker",
        "docker",
        endpoint,
        provision.DOCKER_BASE_IMAGE,
        _venv_cli(),
        {"CONTAINER_ENDPOINT": endpoint},
        tool,
    )
    if not target.connect().has_image(provision.DOCKER_BASE_IMAGE):
        if provisioned is None:
            _unavailable(f"docker has no {provision.DOCKER_BASE_IMAGE} image")
        provision.run(*tool, "import", str(provision.base_tarball()), provision.DOCKER_BASE_IMAGE)
    _build_router_image(target)
    return target


@pytest.fixture(scope="session")
def rootless_target(provisioned: Path | None, services: provision.Services) -> Target:
    if provisioned is None:
        _unavailable("rootless tests need root to make an unprivileged user (or CI=true)")
        raise AssertionError("unreachable")
    user = provision.ROOTLESS_USER
    try:
        env = provision.prepare_rootless_user(user)
        venv = provision.rootless_venv(user)
    except (RuntimeError, OSError) as error:
        _unavailable(f"cannot prepare the rootless user: {error}")
        raise
    env["CONTAINERS_CONF"] = str(provisioned / "containers.conf")
    socket = Path(env["XDG_RUNTIME_DIR"]) / "podman" / "podman.sock"
    endpoint = f"unix://{socket}"
    if engines.answering_engine(endpoint) != "podman":
        socket.unlink(missing_ok=True)
        services.start(
            provision.as_user(user, env, "podman", "system", "service", "--time=0", endpoint),
            provisioned / "podman-rootless.log",
            {**os.environ},
        )
        provision.wait_for_socket(socket, "podman")
    tool = provision.as_user(user, env, "podman", "--url", endpoint)
    # The default endpoint (no CONTAINER_ENDPOINT): the rootless user's own socket.
    target = Target(
        "rootless",
        "podman",
        endpoint,
        provision.BASE_IMAGE,
        [str(venv / "bin" / "skupper-podman")],
        env,
        tool,
        home_owner=user,
    )
    tarball = provision.WORK / "base-bookworm.tar"
    if not target.connect().has_image(provision.BASE_IMAGE):
        shutil.copy(provision.base_tarball(), tarball)
        tarball.chmod(0o644)
        provision.run(*tool, "import", str(tarball), provision.BASE_IMAGE)
        tarball.unlink()
    _build_router_image(target)
    return target


@pytest.fixture(params=ENGINE_TARGETS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    chosen: Target = request.getfixturevalue(f"{request.param}_target")
    yield chosen
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _print_container_logs(chosen)
    # Whatever a test left behind: its own containers, then its sites.
    with _connected(chosen) as engine:
        engine.remove_labelled({TEST_LABEL: "1"}, 1)
    for home in chosen.homes:
        namespaces = home / "namespaces"
        for namespace in sorted(namespaces.iterdir()) if namespaces.is_dir() else []:
            chosen.cli("site", "delete", "-n", namespace.name, home=home, check=False)
        shutil.rmtree(home, ignore_errors=True)
    chosen.homes.clear()


def _print_container_logs(target: Target) -> None:
    """The logs of every container of the failed test: routers, backends, clients."""
    names = target.tool("ps", "-a", "--format", "{{.Names}}").split()
    for name in sorted(names):
        result = subprocess.run(
            [*target.tool_command, "logs", "--tail", "300", name],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        print(f"--- {target.name}: container {name} ---\n{result.stdout}{result.stderr}")


class _connected:
    def __init__(self, target: Target) -> None:
        self.engine = target.connect()

    def __enter__(self) -> Engine:
        return self.engine

    def __exit__(self, *_exc: object) -> None:
        self.engine.close()
