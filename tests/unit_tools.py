"""Tools for the unit tests (tests/system, and tests/engines that run quadlet units):
Podman 5's quadlet generator and `systemd-analyze`, as fixtures that tests/conftest.py
makes available to every test.

Provisioning happens when CI=true or when running as root (the way CI runs): the quadlet
binary comes from Debian trixie's podman package, downloaded with a temporary apt source
that lives in a scratch folder (the machine's own apt configuration is never touched),
unpacked with `dpkg -x` into a cache folder; nothing of trixie is installed. systemd-analyze
comes from the Debian package `systemd`. Elsewhere, a missing tool skips its tests; with
CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "skupper-podman-tests"
QUADLET_IN_DEB = Path("usr/libexec/podman/quadlet")
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
TRIXIE_SOURCE = f"""\
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: {DEBIAN_KEYRING}
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def may_provision() -> bool:
    return in_ci() or os.geteuid() == 0


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the test setup must provide it)")
    pytest.skip(reason)


def _run(*command: str, cwd: Path | None = None) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()[-1500:]}")


def fetch_quadlet(target: Path) -> None:
    """Unpack trixie's podman package into `target` (apt state in a scratch folder)."""
    with tempfile.TemporaryDirectory(prefix="trixie-apt-") as scratch:
        root = Path(scratch)
        (root / "trixie.sources").write_text(TRIXIE_SOURCE)
        (root / "lists" / "partial").mkdir(parents=True)
        (root / "cache" / "archives" / "partial").mkdir(parents=True)
        options = [
            "-o", f"Dir::Etc::SourceList={root / 'trixie.sources'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={root / 'lists'}",
            "-o", f"Dir::Cache={root / 'cache'}",
            "-o", "Dir::State::status=/dev/null",
            "-o", "APT::Sandbox::User=root",
        ]  # fmt: skip
        _run("apt-get", *options, "update")
        _run("apt-get", *options, "download", "podman", cwd=root)
        (deb,) = root.glob("podman_*.deb")
        unpacked = target.with_name(target.name + ".partial")
        shutil.rmtree(unpacked, ignore_errors=True)
        _run("dpkg", "-x", str(deb), str(unpacked))
        unpacked.rename(target)


@pytest.fixture(scope="session")
def quadlet() -> Path:
    """The quadlet generator of Podman 5."""
    explicit = os.environ.get("SKUPPER_TEST_QUADLET")
    if explicit:
        return Path(explicit)
    folder = CACHE / "podman-trixie"
    binary = folder / QUADLET_IN_DEB
    if not binary.exists():
        if not may_provision():
            unavailable(f"no quadlet generator in {binary} (run the tests as root or CI=true)")
        try:
            fetch_quadlet(folder)
        except (RuntimeError, OSError, ValueError) as error:
            unavailable(f"cannot fetch trixie's podman for quadlet: {error}")
    return binary


@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None and may_provision():
        try:
            _run("apt-get", "update", "-qq")
            _run("apt-get", "install", "-y", "-qq", "systemd")
        except RuntimeError as error:
            unavailable(f"cannot install systemd for systemd-analyze: {error}")
        found = shutil.which("systemd-analyze")
    if found is None:
        unavailable("systemd-analyze is not installed (Debian package systemd)")
    assert found is not None
    return found
