"""Secrets on disk: every folder holding one is 0700 and every secret file 0600 (site,
grants, TLS credentials of services, bundles). Files are created with that mode
(``files.write_atomically``, ``certs.write_credential``), never opened wider first."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.cli_helpers import namespace_folder, ok
from tests.ports import free_port
from tests.reliability.figures import report

SECRET_FILES = ("tls.key",)
SECRET_PREFIXES = ("Secret-", "AccessGrant-")


def _is_secret(path: Path) -> bool:
    return (
        path.name in SECRET_FILES
        or path.name.startswith(SECRET_PREFIXES)
        or (path.parent.name == "grants" and path.suffix == ".json")
    )


def test_secrets_are_the_owners_only(
    router_available: None, tmp_path: Path, skupper_home: Path
) -> None:
    ok("site", "init", "m", "--link-access", "--bind-host", "127.0.0.1",
       "--port", str(free_port()), "-n", "m")  # fmt: skip
    ok("token", "issue", "--host", "127.0.0.1", "-n", "m")
    ok("listener", "create", "web", str(free_port()), "--routing-key", "web",
       "--tls-credentials", "web-tls", "-n", "m")  # fmt: skip
    link = tmp_path / "link.yaml"
    link.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", "m").stdout)
    ok("site", "init", "w", "-n", "w")
    ok("link", "create", str(link), "-n", "w")
    secrets = []
    for namespace in ("m", "w"):
        for path in namespace_folder(skupper_home, namespace).rglob("*"):
            if path.is_file() and _is_secret(path):
                secrets.append(path)
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
                assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path.parent
    assert len(secrets) >= 8, secrets
    report(f"{len(secrets)} secret files, all 0600 in 0700 folders")

    out = tmp_path / "bundles"
    ok("bundle", "generate", "b1", "--type", "tarball", "--output", str(out), "-n", "m")
    ok("bundle", "generate", "b2", "--type", "shell-script", "--output", str(out), "-n", "m")
    assert stat.S_IMODE((out / "b1.tar.gz").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "b2.sh").stat().st_mode) == 0o700
