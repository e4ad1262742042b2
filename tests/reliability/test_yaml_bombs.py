"""Hostile YAML through every command that reads YAML (``yaml_input.py``): each is refused
with one line, no traceback, quickly and in little memory."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from skupper_podman import yaml_input
from skupper_podman.errors import SkupperError
from tests.cli_helpers import ok
from tests.reliability.figures import report

LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else 'lol'}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=False)
)
BOMBS = {
    "billion-laughs": LAUGHS,
    "merge-keys": "base: &b {spec: {port: 1}}\nkind: Listener\n<<: *b\n",
    "deep-flow": "[" * 1_000_000,
    "deep-block": "".join("  " * i + "k:\n" for i in range(200)),
    "deep-mixed": "a: " + "[{b: " * 40 + "1" + "}]" * 40 + "\n",
    "oversized": "a: " + "x" * (2 * yaml_input.MAX_BYTES) + "\n",
    "many-documents": "---\n" * 250_000,
    "binary": "\x00\x01\x02kind: Site\n",
    "tab-indent": "kind: Site\nmetadata:\n\tname: x\n",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_the_loader_refuses_bombs(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(SkupperError) as refused:
        yaml_input.load_documents(BOMBS[name], name)
    seconds = time.monotonic() - started
    report(f"{name}: refused in {seconds * 1000:.0f} ms: {str(refused.value)[:90]}")
    assert "\n" not in str(refused.value)


CLI = Path(sys.executable).parent / "skupper-podman"
# Runs one command and writes the most memory it took (KiB) to argv[1]: the test
# process's own children include every other program earlier tests ran.
MEASURED = (
    "import resource, subprocess, sys; "
    "code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)
REASONS = ("YAML", "nested deeper", "larger than", "documents", "UTF-8")
COMMANDS = {
    "apply": ("apply", "-f", "{path}"),
    "apply-stdin": ("apply", "-f", "-"),
    "delete": ("delete", "-f", "{path}"),
    "link-create": ("link", "create", "{path}"),
    "token-redeem": ("token", "redeem", "{path}"),
}


def test_every_command_refuses_every_bomb(router_available: None, tmp_path: Path) -> None:
    ok("site", "init", "target", "-n", "target")
    worst_seconds, worst_kib = 0.0, 0
    for name, text in BOMBS.items():
        path = tmp_path / f"{name}.yaml"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        for command, args in COMMANDS.items():
            argv = [a.format(path=path) for a in args]
            started = time.monotonic()
            usage = tmp_path / "usage"
            result = subprocess.run(
                [sys.executable, "-c", MEASURED, str(usage), str(CLI), *argv, "-n", "target"],
                input=text if command == "apply-stdin" else None,
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            seconds = time.monotonic() - started
            kib = int(usage.read_text())
            worst_seconds, worst_kib = max(worst_seconds, seconds), max(worst_kib, kib)
            where = f"{name} via {command}"
            assert result.returncode == 1, f"{where}: {result.returncode} {result.stderr}"
            assert "Traceback" not in result.stderr, f"{where}: {result.stderr}"
            assert result.stderr.count("\n") == 1, f"{where}: {result.stderr}"
            assert result.stderr.startswith("error: "), f"{where}: {result.stderr}"
            assert any(word in result.stderr for word in REASONS), f"{where}: {result.stderr}"
    report(f"{len(BOMBS)} bombs x {len(COMMANDS)} commands refused; slowest {worst_seconds:.2f} s, "
          f"largest process {worst_kib // 1024} MiB")  # fmt: skip
    assert worst_kib < 100 * 1024
