"""Test setup for the engine tests: install and start Podman (rootful and rootless) and
Docker, make the local Debian base image and our router image. Only tests use this;
none of these workarounds of the test machines belong in the product.

Provisioning happens when CI=true or when running as root; elsewhere the tests use
what already answers and skip the rest (never when CI=true: they fail).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from skupper_podman import engines, image

DEBS = (
    "podman",
    "netavark",  # the network backend the sites need (name resolution: aardvark-dns)
    "aardvark-dns",
    "containernetworking-plugins",  # the CNI backend, which site init must refuse
    "runc",
    "uidmap",
    "slirp4netns",
    "fuse-overlayfs",
    "docker.io",
    "mmdebstrap",
    "python3-venv",
)
BASE_IMAGE = "localhost/skupper-test-base:latest"
DOCKER_BASE_IMAGE = "skupper-test-base:latest"
ROOTLESS_USER = "skupper-test"
WORK = Path(os.environ.get("SKUPPER_ENGINE_TESTS_DIR", "/var/tmp/skupper-engine-tests"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "skupper-podman-tests"
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def may_provision() -> bool:
    return in_ci() or os.geteuid() == 0


def run(*command: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def install_debs() -> None:
    missing = [d for d in DEBS if subprocess.run(["dpkg", "-s", d], capture_output=True).returncode]
    if not missing:
        return
    run("apt-get", "update", "-qq")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "install", "-y", "-qq", *missing, env=env)


@contextlib.contextmanager
def session_lock(timeout: float = 1800) -> Iterator[None]:
    """One engine-test session at a time on this machine. Sessions from any checkout
    share WORK, the engines, their services and the rootless user's venv: a second
    session would rebuild the venv under the first one's CLI calls and stop the services
    the first one still uses. It waits (bounded) for the first to end."""
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / "session.lock", "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"another engine-test session held {handle.name} for {timeout:.0f} s"
                    ) from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wait_for_socket(path: Path, engine: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and engines.answering_engine(f"unix://{path}") == engine:
            return
        time.sleep(0.3)
    raise RuntimeError(f"{engine} did not answer on {path} within {timeout:.0f} s")


@dataclass
class Services:
    """Background engine services this session started (stopped at session end)."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, command: list[str], log: Path, env: dict[str, str]) -> None:
        with open(log, "ab") as output:
            self.processes.append(
                subprocess.Popen(
                    command,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                    # not the checkout's folder: a service outliving a removed checkout
                    # would hand containers a deleted working directory
                    cwd=log.parent,
                )
            )

    def stop(self) -> None:
        """Each service's whole process group: a rootless Podman started through runuser
        outlived runuser's end (its process, re-executed in the user's namespace, stayed
        after the tests and took CPU)."""
        for process in reversed(self.processes):
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=10)
            _wait_group_gone(process.pid)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)  # its own session: the group is its pid


def _wait_group_gone(group: int, timeout: float = 20.0) -> None:
    """What is left of the group after its leader ended gets SIGTERM's time, then SIGKILL
    (zombies aside: this sandbox's init does not reap them)."""
    deadline = time.monotonic() + timeout
    while _live_members(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _live_members(group):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def _live_members(group: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(pgrp) == group and state != "Z":
                return True
    return False


def containers_conf() -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    os.chmod(WORK, 0o755)
    path = WORK / "containers.conf"
    path.write_text(CONTAINERS_CONF)
    path.chmod(0o644)
    return path


def base_tarball() -> Path:
    """A Debian bookworm root filesystem with python3, built once and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / "base-bookworm.tar"
    if not tarball.exists():
        partial = CACHE / "base-bookworm.partial.tar"  # mmdebstrap picks the format by suffix
        run(
            "mmdebstrap",
            "--variant=apt",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(partial),
            timeout=900,
        )
        partial.rename(tarball)
    return tarball


def user_env(user: str) -> dict[str, str]:
    uid = int(run("id", "-u", user).strip())
    return {
        "HOME": f"/home/{user}",
        "USER": user,
        "XDG_RUNTIME_DIR": f"/run/user/{uid}",
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    }


def as_user(user: str, env: dict[str, str], *command: str) -> list[str]:
    pairs = [f"{key}={value}" for key, value in env.items()]
    return ["runuser", "-u", user, "--", "env", "-i", *pairs, *command]


def prepare_rootless_user(user: str) -> dict[str, str]:
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        run("useradd", "-m", user)
    # The sandbox's /dev/net/tun is 0600 and nothing creates XDG_RUNTIME_DIR (no logind).
    os.chmod("/dev/net/tun", 0o666)
    env = user_env(user)
    runtime = Path(env["XDG_RUNTIME_DIR"])
    runtime.mkdir(parents=True, exist_ok=True)
    shutil.chown(runtime, user, user)
    runtime.chmod(0o700)
    # What podman.socket's unit would make: the folder of the user's API socket.
    (runtime / "podman").mkdir(exist_ok=True)
    shutil.chown(runtime / "podman", user, user)
    return env


def rootless_venv(user: str) -> Path:
    """A venv the unprivileged user can run (the test venv may live in root's home):
    the system Python with skupper-podman installed from host-built wheels."""
    venv = WORK / "rootless-venv"
    python = "/usr/bin/python3"
    wheels = WORK / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    image.package_wheel(wheels)
    image.dependency_wheels(wheels)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    cli_only = image.cli_only_requirements()  # engine clients, console: not in the image's
    run(*pip, "wheel", "-w", str(wheels), "--find-links", str(wheels), *cli_only)
    shutil.rmtree(venv, ignore_errors=True)
    run(python, "-m", "venv", str(venv))
    run(
        str(venv / "bin" / "pip"),
        "install",
        "-q",
        "--no-index",
        "--find-links",
        str(wheels),
        "skupper-podman",
        "podman",
        "docker",
    )
    for path in (WORK, venv):
        run("chmod", "-R", "a+rX", str(path))
    # The user's `image build` then finds every wheel offline (no sdist builds again).
    cache = Path(f"/home/{user}/.cache/skupper-podman/wheels")
    cache.mkdir(parents=True, exist_ok=True)
    for wheel in wheels.glob("*.whl"):
        if not wheel.name.startswith("skupper_podman-"):
            shutil.copy(wheel, cache / wheel.name)
    run("chown", "-R", f"{user}:{user}", f"/home/{user}/.cache")
    return venv
