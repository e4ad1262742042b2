"""`bundle generate`: one file that installs a site on another host.

A bundle holds `resources.yaml` (the site's Skupper v2 resources, as `site generate`
prints them), `wheels/` (skupper-podman and, when pip can get them, its dependencies;
built the way the router image gets them, skupper_podman/image/) and `install.sh`
(install.sh here), which makes a virtual environment, applies the resources and installs
the units. The site's identity is made on the target host: `apply` of a Site creates its
CA and certificates there; only the Links' Secrets (credentials the remote sites issued)
travel. The units are rendered on the target by the installed package from its own
templates, because they name the target's paths, platform and namespace.

Two forms: a gzip tarball with one top-level folder NAME/, or a shell script that unpacks
the same tarball, appended to it, into a temporary folder and runs NAME/install.sh.
"""

from __future__ import annotations

import enum
import importlib.resources
import io
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import skupper_podman
from skupper_podman import image, progress
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.files import write_atomically
from skupper_podman.paths import validate_namespace

PAYLOAD_MARKER = "__SKUPPER_PODMAN_BUNDLE_PAYLOAD__"
_SELF_EXTRACTOR = """\
#!/bin/sh
# skupper-podman bundle @name@: run it with the options of install.sh
# (--platform P, --namespace NS, --uninstall, --help).
set -u
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
line=$(awk '/^@marker@$/ { print NR + 1; exit }' "$0")
tail -n +"$line" "$0" | tar -xzf - -C "$scratch" || exit 1
sh "$scratch/@name@/install.sh" "$@"
exit $?
@marker@
"""


class BundleType(enum.StrEnum):
    TARBALL = "tarball"
    SHELL_SCRIPT = "shell-script"


@dataclass(frozen=True)
class Bundle:
    path: Path
    all_wheels: bool  # False: the install pip-installs dependencies from the index
    resources: int


def _package_wheel(target: Path) -> None:
    """A wheel of skupper-podman: `pip wheel --no-deps` of the source tree when this is
    an editable install of one (and pip can build it), else packed from the installed
    package the way the router image gets it."""
    source = Path(skupper_podman.__file__).resolve().parent.parent
    if (source / "pyproject.toml").is_file():
        command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "wheel"]
        command += ["--no-deps", "-w", str(target), str(source)]
        built = subprocess.run(command, capture_output=True, text=True, check=False)
        if built.returncode == 0:
            return
    image.package_wheel(target)


def _install_script(name: str, namespace: str) -> str:
    text = importlib.resources.files(__package__).joinpath("install.sh").read_text()
    return text.replace("@name@", name).replace("@namespace@", namespace)


def _add(archive: tarfile.TarFile, path: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = mode
    archive.addfile(info, io.BytesIO(data))


def _tarball(name: str, namespace: str, documents: list[res.Resource], wheels: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        _add(archive, f"{name}/install.sh", _install_script(name, namespace).encode(), 0o755)
        # Link Secrets hold private keys: owner-only, as in the site's own folder.
        _add(archive, f"{name}/resources.yaml", res.dump_yaml(documents).encode(), 0o600)
        for wheel in sorted(wheels.glob("*.whl")):
            archive.add(wheel, f"{name}/wheels/{wheel.name}")
    return buffer.getvalue()


def generate_bundle(
    name: str,
    documents: list[res.Resource],
    *,
    kind: BundleType,
    output: Path,
    namespace: str = "default",
) -> Bundle:
    """Write bundle `name` of `documents` into the folder `output`."""
    validate_namespace(name)  # it names a folder and a file: the same rules serve
    if not any(isinstance(d, res.Site) for d in documents):
        raise SkupperError("a bundle needs a Site among its resources")
    with (
        tempfile.TemporaryDirectory(prefix="skupper-bundle-") as scratch,
        progress.step(f"packing bundle {name} (the package and its dependencies)"),
    ):
        wheels = Path(scratch)
        _package_wheel(wheels)
        try:
            image.dependency_wheels(wheels)
            all_wheels = True
        except SkupperError:
            all_wheels = False  # offline: install.sh asks the index for them
        payload = _tarball(name, namespace, documents, wheels)
    output.mkdir(parents=True, exist_ok=True)
    # It carries the site's secrets: created owner-only, never readable by others at all.
    if kind is BundleType.TARBALL:
        path = output / f"{name}.tar.gz"
        write_atomically(path, payload, 0o600)
    else:
        path = output / f"{name}.sh"
        header = _SELF_EXTRACTOR.replace("@name@", name).replace("@marker@", PAYLOAD_MARKER)
        write_atomically(path, header.encode() + payload, 0o700)
    return Bundle(path, all_wheels, len(documents))
