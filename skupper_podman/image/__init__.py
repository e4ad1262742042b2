"""The router image: build it from the installed package, without a registry.

The build context is assembled in a temporary folder: this package's `Containerfile` and
`router_image/` (the repository's top-level `Containerfile` and `router_image/` point
here), and `wheels/`: a wheel of skupper-podman, packed from the imported package, and
one of each dependency, built on this host with pip (cached under
$XDG_CACHE_HOME/skupper-podman/wheels). The image installs
them with `pip install --no-index`, so the only thing the engine needs is the base image
(a build argument). Host-built wheels fit an image whose Python has the host's version:
the default base is `python:<host major.minor>-slim`.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from skupper_podman import engines, progress
from skupper_podman.engines import Engine
from skupper_podman.errors import SkupperError

IMAGE_NAME = "skupper-podman-router"
BASE_IMAGE_VARIABLE = "SKUPPER_PODMAN_BASE_IMAGE"
DISTRIBUTION = "skupper-podman"
_HERE = Path(__file__).parent


def default_image() -> str:
    return f"{IMAGE_NAME}:{importlib.metadata.version(DISTRIBUTION)}"


def default_base_image() -> str:
    major, minor = sys.version_info[:2]
    return os.environ.get(BASE_IMAGE_VARIABLE) or f"docker.io/library/python:{major}.{minor}-slim"


def build(engine: Engine, tag: str | None = None, base_image: str | None = None) -> str:
    """Build the router image in `engine`; returns its tag."""
    chosen = tag or default_image()
    base = base_image or default_base_image()
    with tempfile.TemporaryDirectory(prefix="skupper-image-") as folder:
        context = Path(folder)
        shutil.copy(_HERE / "Containerfile", context / "Containerfile")
        shutil.copytree(_HERE / "router_image", context / "router_image")
        wheels = context / "wheels"
        wheels.mkdir()
        with progress.step(f"building the router image {chosen} from {base}"):
            package_wheel(wheels)
            dependency_wheels(wheels)
            engine.build_image(context, "Containerfile", chosen, {"BASE_IMAGE": base})
    return chosen


def build_in(
    platform: str | None, endpoint: str | None, tag: str | None, base_image: str | None
) -> tuple[str, str]:
    """Build the router image in the engine named ``platform`` (default: the one that
    answers at ``endpoint``); returns the image's tag and the engine's name."""
    name = platform or engines.answering_engine(engines.chosen_endpoint(endpoint))
    if name is None:
        raise SkupperError(f"no container engine answers; {engines.start_hint('podman')}")
    if name not in engines.ENGINE_NAMES:
        raise SkupperError(f"images are for podman or docker, not {name!r}")
    engine = engines.connect(name, endpoint)
    try:
        return build(engine, tag, base_image), name
    finally:
        engine.close()


def ensure(engine: Engine, image: str | None) -> str:
    """The image to run: `image` if given (it must exist), else ours, built if missing."""
    if image is not None:
        if not engine.has_image(image):
            raise SkupperError(
                f"image {image} is not in {engine.name}: build it or load it first "
                "(skupper-podman image build --tag NAME)"
            )
        return image
    ours = default_image()
    if engine.has_image(ours):
        return ours
    try:
        return build(engine, ours)
    except SkupperError as error:
        raise SkupperError(
            f"image {ours} is missing and could not be built ({error}); "
            f"build it with 'skupper-podman image build --base-image IMAGE'"
        ) from None


def _pip(*arguments: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise SkupperError(f"pip {arguments[0]} failed: {lines[-1] if lines else 'no output'}")


def package_wheel(target: Path) -> None:
    """A wheel of skupper-podman made from the imported package and its installed metadata
    (works for editable and regular installs alike, with no build tools)."""
    distribution = _installed_distribution()
    version = distribution.version
    info = f"skupper_podman-{version}.dist-info"
    package = _HERE.parent
    with zipfile.ZipFile(target / f"skupper_podman-{version}-py3-none-any.whl", "w") as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, f"skupper_podman/{path.relative_to(package)}")
        # An egg-info (a source tree's leftover) has PKG-INFO where a dist-info has METADATA.
        metadata = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO")
        if metadata is None:
            raise SkupperError(f"the installed {DISTRIBUTION} has no metadata to pack")
        archive.writestr(f"{info}/METADATA", metadata)
        entry_points = distribution.read_text("entry_points.txt")
        if entry_points is not None:
            archive.writestr(f"{info}/entry_points.txt", entry_points)
        archive.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: skupper-podman\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n",
        )
        archive.writestr(f"{info}/RECORD", "")


def _installed_distribution() -> importlib.metadata.Distribution:
    """The installed dist-info rather than a source tree's egg-info (which the current
    folder may put first on the path)."""
    found = list(importlib.metadata.distributions(name=DISTRIBUTION))
    return next((d for d in found if d.read_text("METADATA")), found[0])


# What the CLI needs to manage sites and serve the console, not the router: left out of
# the router image.
CLI_ONLY_REQUIREMENTS = frozenset({"podman", "docker", "aiohttp", "jinja2"})  # engines, console
REQUIREMENTS_FILE = "requirements.txt"  # in wheels/: what the image installs besides us


def _requirements() -> list[str]:
    return [r for r in _all_requirements() if _project(r) not in CLI_ONLY_REQUIREMENTS]


def cli_only_requirements() -> list[str]:
    """The requirements (with their versions) the router image leaves out."""
    return [r for r in _all_requirements() if _project(r) in CLI_ONLY_REQUIREMENTS]


def _all_requirements() -> list[str]:
    found = importlib.metadata.requires(DISTRIBUTION) or []
    return [r.split(";")[0].strip() for r in found if "extra ==" not in r]


def _project(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0].lower()


def _cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(root) / "skupper-podman" / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def dependency_wheels(target: Path) -> None:
    """Wheels of skupper-podman's dependencies into `target`, through a user cache: from
    the cache alone when it has them all, else from the package index."""
    cache = _cache()
    requirements = _requirements()
    try:  # offline first: everything may be in the cache already
        _pip("wheel", "--no-index", "--find-links", str(cache), "-w", str(cache), *requirements)
    except SkupperError:
        _pip("wheel", "--find-links", str(cache), "-w", str(cache), *requirements)
    for wheel in cache.glob("*.whl"):
        shutil.copy(wheel, target / wheel.name)
    (target / REQUIREMENTS_FILE).write_text("\n".join(requirements) + "\n")
