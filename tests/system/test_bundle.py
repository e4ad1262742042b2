"""`bundle generate`: the file installs a site with its own identity that links to the
network and carries traffic (linux platform), and `--uninstall` leaves nothing."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import yaml

from skupper_podman import certs
from skupper_podman.paths import namespace_paths
from tests.cli_helpers import ok
from tests.system.helpers import link_up, make_network, wait_for

INSTALL_TIMEOUT_SECONDS = 300


def run_bundle(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(path), *args],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        env={**os.environ},  # SKUPPER_PODMAN_HOME: this test's sites
        check=False,
    )


def test_tarball_contents(router_available: None, tmp_path: Path) -> None:
    ok("site", "init", "solo", "-n", "solo", "--platform", "linux")
    made = ok("bundle", "generate", "solo-bundle", "-n", "solo", "--output", str(tmp_path))
    assert made.stdout.startswith(f"Bundle {tmp_path / 'solo-bundle.tar.gz'} written (1 ")
    with tarfile.open(tmp_path / "solo-bundle.tar.gz") as archive:
        names = archive.getnames()
        install = archive.getmember("solo-bundle/install.sh")
        resources = archive.extractfile("solo-bundle/resources.yaml")
        assert resources is not None
        documents = list(yaml.safe_load_all(resources.read()))
    assert install.mode == 0o755
    assert [d["kind"] for d in documents] == ["Site"]
    assert any(n.startswith("solo-bundle/wheels/skupper_podman-") for n in names)
    # Only resources travel: no certificate of the site is in the bundle.
    assert not any("certs" in n or n.endswith((".crt", ".key")) for n in names)


def test_bundle_installs_a_linked_site_and_uninstalls(
    router_available: None, tmp_path: Path, skupper_home: Path
) -> None:
    network = make_network(tmp_path, "origin")
    wait_for(lambda: link_up("origin"), "the origin's link did not come up")
    origin_ca = certs.read_credential(namespace_paths("origin").certs / certs.SITE_CA).cert
    ok("bundle", "generate", "moved", "-n", "origin", "--type", "shell-script",
       "--output", str(tmp_path))  # fmt: skip
    bundle = tmp_path / "moved.sh"
    ok("site", "delete", "-n", "origin")  # the bundle's site takes over its listener port

    installed = run_bundle(bundle, "--platform", "linux", "--namespace", "fresh")
    assert installed.returncode == 0, (installed.stdout, installed.stderr)
    assert "Bundle moved installed in namespace fresh" in installed.stdout
    # No systemd here: the units could not be installed, and the script says so.
    if not Path("/run/systemd/system").is_dir():
        assert "will not start at boot" in installed.stderr

    fresh = namespace_paths("fresh")
    fresh_ca = certs.read_credential(fresh.certs / certs.SITE_CA).cert
    assert fresh_ca != origin_ca  # its own CA, made at install
    assert fresh_ca.public_key() != origin_ca.public_key()
    wait_for(lambda: link_up("fresh"), "the bundle's site did not link")
    wait_for(lambda: network.echo(b"from the bundle") == b"from the bundle", "no flow")

    removed = run_bundle(bundle, "--uninstall", "--namespace", "fresh")
    assert removed.returncode == 0, (removed.stdout, removed.stderr)
    assert not fresh.root.exists()
    assert not (skupper_home / "venvs").exists()
    assert sorted(p.name for p in (skupper_home / "namespaces").iterdir()) == ["hub"]
