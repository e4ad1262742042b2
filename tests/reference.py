"""The reference skupper-router (the C router Skupper sites run), for interop tests and
the benchmark: found, unpacked once into the test cache, and run as a process.

``SKROUTERD=/path/to/skrouterd`` points at a user's own build. Otherwise the prebuilt
package next to this checkout (``../shared/reference/skupper-router/*.tar.gz``) is unpacked
into ``$XDG_CACHE_HOME/skupper-podman-tests/skupper-router/``. The product never uses it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT.parent / "shared" / "reference" / "skupper-router"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "skupper-podman-tests"
# skstat and skmanage are Python programs built against Debian's python3 and its cffi.
SYSTEM_PYTHON = "/usr/bin/python3"


def _package() -> Path | None:
    found = sorted(PACKAGES.glob("skupper-router-*-amd64.tar.gz"))
    return found[-1] if found else None


@cache
def skrouterd() -> Path | None:
    """The skrouterd to run, or None when there is none on this machine."""
    explicit = os.environ.get("SKROUTERD")
    if explicit:
        return Path(explicit)
    package = _package()
    if package is None:
        return None
    tree = CACHE / "skupper-router" / package.name.removesuffix(".tar.gz")
    binary = tree / "bin" / "skrouterd"
    if not binary.exists():
        partial = tree.with_name(tree.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with tarfile.open(package) as archive:
            archive.extractall(partial, filter="tar")
        shutil.rmtree(tree, ignore_errors=True)
        partial.rename(tree)
    return binary


def missing_reason() -> str | None:
    """Why the reference router cannot run here; None when it can."""
    binary = skrouterd()
    if binary is None:
        return f"no reference skupper-router: no package in {PACKAGES} and SKROUTERD unset"
    try:
        result = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as e:
        return f"cannot run {binary}: {e}"
    if result.returncode != 0:
        return f"{binary} --version failed: {(result.stderr or result.stdout).strip()[:300]}"
    return None


def tool(name: str) -> list[str]:
    """The command line of skstat or skmanage from the same tree as skrouterd."""
    binary = skrouterd()
    assert binary is not None
    return [SYSTEM_PYTHON, str(binary.resolve().parent / name)]


def version() -> str:
    binary = skrouterd()
    assert binary is not None
    return subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
