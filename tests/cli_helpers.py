"""Helpers for CLI tests: run a command, expect success or exactly one error line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from skupper_podman.cli import app
from tests.ports import free_port

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def fails(*args: str, code: int = 1) -> str:
    """Run a command that must fail; return its one error line."""
    result = run(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def namespace_folder(home: Path, namespace: str) -> Path:
    return home / "namespaces" / namespace


def status_json(*command: str) -> Any:
    return json.loads(ok(*command, "-o", "json").stdout)


def init_linkable_site(namespace: str, port: int | None = None) -> str:
    """`site init` of a site named after its namespace with link access on 127.0.0.1, on
    `port` or a free one; returns the namespace."""
    link_port = str(port if port is not None else free_port())
    ok("site", "init", namespace, "--link-access", "--bind-host", "127.0.0.1", "--port", link_port,
       "-n", namespace)  # fmt: skip
    return namespace
