"""Upgrade in place: sites made by the previous release (main before state files had a
schema version) are taken over by this one with their certificates, links, grants and
services; their files are migrated once, after a backup; a newer release's are refused.

The previous release is the real one: its sources come out of this repository's history
(`git archive`) and its CLI and routers run from them, on the real router processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from skupper_podman.paths import namespace_paths
from tests.cli_helpers import fails, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_for_port

ROOT = Path(__file__).resolve().parent.parent
# main before schema versions: the last commit of the release sites were made with
PREVIOUS_RELEASE = "7002318579a4e17b6f374e614429cb7aad8609c9"
LINK_SECONDS = 20.0


SITECUSTOMIZE = """\
import sys
def ours(hook):
    return not getattr(hook, "__module__", "").startswith("__editable__")
sys.meta_path[:] = [f for f in sys.meta_path if ours(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if ours(h)]
sys.path_importer_cache.clear()
"""


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's package sources, from git."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        message = f"commit {PREVIOUS_RELEASE} is not in this clone (a shallow one?)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("previous-release")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS_RELEASE, "skupper_podman"],
        capture_output=True,
        check=True,
    )
    tarball = folder / "release.tar"
    tarball.write_bytes(archive.stdout)
    with tarfile.open(tarball) as tar:
        tar.extractall(folder, filter="data")
    # This checkout is installed editable: its import hook would win over PYTHONPATH and
    # run this release's code. Python imports sitecustomize after the hook is installed.
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return folder


def previous(release: Path, *args: str) -> str:
    """Run the previous release's CLI (its routers run its code too)."""
    env = {**os.environ, "PYTHONPATH": str(release)}
    result = subprocess.run(
        [sys.executable, "-c", "from skupper_podman.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=release,  # not this checkout: python -c puts the working folder first
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_the_previous_release_runs_its_own_code(previous_release: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(previous_release)}
    where = subprocess.run(
        [sys.executable, "-c", "import skupper_podman.site.store as s; print(s.__file__)"],
        capture_output=True, text=True, env=env, cwd=previous_release, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(previous_release)), where.stdout


def link_up(namespace: str) -> bool:
    links = status_json("link", "status", "-n", namespace)
    return len(links) == 1 and bool(links[0]["up"])


def wait_linked(namespace: str) -> None:
    deadline = time.monotonic() + LINK_SECONDS
    while not link_up(namespace):
        assert time.monotonic() < deadline, f"{namespace}'s link did not come up"
        time.sleep(0.2)


def identity(namespace: str) -> dict[str, str]:
    """Every certificate, key, resource and grant of a site, by path."""
    root = namespace_paths(namespace).root
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in ("certs", "resources", "grants", "issued")
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def platform_json(namespace: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(namespace_paths(namespace).platform_file.read_text())
    return data


def test_sites_of_the_previous_release_are_taken_over(
    previous_release: Path, router_available: None, tmp_path: Path
) -> None:
    backend = Backend(EchoHandler)
    listener_port = free_port()
    # Made and linked by the previous release: a link file, a token, a listener, a connector.
    previous(previous_release, "site", "init", "east", "--link-access", "--bind-host",
             "127.0.0.1", "--port", str(free_port()), "--grant-port", str(free_port()),
             "-n", "east")  # fmt: skip
    previous(previous_release, "site", "init", "west", "-n", "west")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(
        previous(previous_release, "link", "generate", "--host", "127.0.0.1", "-n", "east")
    )
    previous(previous_release, "link", "create", str(link_file), "-n", "west")
    token = tmp_path / "token.yaml"
    token.write_text(
        previous(
            previous_release, "token", "issue", "--host", "127.0.0.1", "--uses", "2", "-n", "east"
        )
    )
    previous(previous_release, "connector", "create", "echo", str(backend.port),
             "--routing-key", "echo", "--host", "127.0.0.1", "-n", "east")  # fmt: skip
    previous(previous_release, "listener", "create", "echo", str(listener_port),
             "--routing-key", "echo", "-n", "west")  # fmt: skip
    wait_for_port(listener_port, timeout=30)
    assert echo_once(listener_port, b"previous") == b"previous"
    before = {namespace: identity(namespace) for namespace in ("east", "west")}
    assert "schemaVersion" not in platform_json("east")

    # This release opens them: migrated once, with a backup, nothing of theirs changed.
    for namespace in ("east", "west"):
        assert status_json("site", "status", "-n", namespace)["routerAnswering"] is True
    wait_linked("west")
    for namespace in ("east", "west"):
        facts = platform_json(namespace)
        assert facts["schemaVersion"] == 2, facts
        backups = list((namespace_paths(namespace).root / "backups").iterdir())
        assert [b.name.split("-")[:2] for b in backups] == [["schema", "1"]], backups
        assert (backups[0] / "platform.json").is_file()
        assert "schemaVersion" not in json.loads((backups[0] / "platform.json").read_text())
        assert identity(namespace) == before[namespace]
    status_json("site", "status", "-n", "east")
    assert len(list((namespace_paths("east").root / "backups").iterdir())) == 1  # once

    # This release's routers take over, with the same certificates, link and services.
    for namespace in ("east", "west"):
        ok("system", "stop", "-n", namespace)
        ok("system", "start", "-n", namespace)
    wait_linked("west")
    wait_for_port(listener_port, timeout=30)
    assert echo_once(listener_port, b"this release") == b"this release"
    # A token the previous release issued is redeemed by this release's grant server.
    ok("site", "init", "north", "-n", "north")
    ok("token", "redeem", str(token), "-n", "north")
    wait_linked("north")
    generated = ok("site", "generate", "-n", "east").stdout
    assert "name: echo" in generated

    # A site written by a newer release is refused, and left as it is.
    facts = platform_json("west")
    newer = {**facts, "schemaVersion": 99, "writtenBy": "9.0.0"}
    namespace_paths("west").platform_file.write_text(json.dumps(newer))
    message = fails("site", "status", "-n", "west")
    assert message == (
        "namespace west was written by skupper-podman 9.0.0 (schema 99); this is 0.1.0, "
        "which knows schema 2 at most: use that release or a newer one"
    )
    assert json.loads(namespace_paths("west").platform_file.read_text()) == newer
