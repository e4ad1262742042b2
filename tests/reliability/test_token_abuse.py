"""Token abuse against a real issuing site: a one-use token raced by many redeemers, and
a run of forged tokens. Each refusal is one line and a non-zero exit, nothing is spent
by a forged token, and no losing site is left with a link."""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.cli_helpers import ok, status_json
from tests.reliability.figures import report
from tests.test_tokens import east, grants, issue, site  # noqa: F401 (east: a fixture)

RACERS = 8
FORGED = 16


def _redeem(token: Path, namespace: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in a process of its own (redeemers race for real)."""
    return subprocess.run(
        [sys.executable, "-c", "from skupper_podman.cli import main; main()",
         "token", "redeem", str(token), "-n", namespace],
        capture_output=True, text=True, timeout=60, env=os.environ.copy(),
    )  # fmt: skip


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_one_use_token_raced_by_many_sites_links_exactly_one(east: int, tmp_path: Path) -> None:  # noqa: F811
    token = issue(tmp_path, "--uses", "1")
    racers = [site(f"racer-{index}") for index in range(RACERS)]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(lambda namespace: _redeem(token, namespace), racers))
    seconds = time.monotonic() - started
    winners = [ns for ns, result in zip(racers, results, strict=True) if result.returncode == 0]
    assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
    for namespace, result in zip(racers, results, strict=True):
        if namespace in winners:
            continue
        line = _one_error_line(result)
        assert "no uses left" in line or "refused" in line, line
        assert status_json("link", "status", "-n", namespace) == []
    assert [len(status_json("link", "status", "-n", ns)) for ns in winners] == [1]
    (grant,) = grants()
    assert grant["remaining"] == 0
    report(f"one-use token raced by {RACERS} sites: 1 linked, {RACERS - 1} refused with one "
           f"line each, in {seconds:.1f} s")  # fmt: skip


def test_forged_tokens_are_refused_and_spend_nothing(east: int, tmp_path: Path) -> None:  # noqa: F811
    token = issue(tmp_path, "--uses", "1")
    site("west")
    document = yaml.safe_load(token.read_text())
    forged: list[dict[str, Any]] = []
    for index in range(FORGED):
        copy = yaml.safe_load(token.read_text())
        if index % 2:
            copy["spec"]["code"] = secrets.token_urlsafe(len(document["spec"]["code"]))
        else:
            copy["spec"]["url"] = (
                document["spec"]["url"].rsplit("/", 1)[0] + f"/{secrets.token_hex(8)}"
            )
        forged.append(copy)
    lines = []
    for index, copy in enumerate(forged):
        path = tmp_path / f"forged-{index}.yaml"
        path.write_text(yaml.safe_dump(copy))
        lines.append(_one_error_line(_redeem(path, "west")))
    assert all("refused by the grant server" in line for line in lines), lines
    assert status_json("link", "status", "-n", "west") == []
    (grant,) = grants()
    assert grant["remaining"] == 1  # nothing spent by a forged token
    ok("token", "redeem", str(token), "-n", "west")  # the real one still works
    report(f"{FORGED} forged tokens (wrong code, unknown grant): {FORGED} refused with one "
           "line each, nothing spent; the real token linked afterwards")  # fmt: skip
