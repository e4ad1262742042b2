"""Shell completion, as bash runs it: the script `--show-completion bash` prints, sourced
into a real bash, completes commands and options of the installed CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(sys.executable).parent / "skupper-podman"


def complete(*words: str) -> list[str]:
    """What bash offers after ``skupper-podman WORDS`` (the last word being typed)."""
    line = " ".join(["skupper-podman", *words])
    script = (
        f'source <("{CLI}" --show-completion bash)\n'
        f"COMP_WORDS=({line}); COMP_CWORD={len(words)}\n"
        # bash's `complete -F` passes the command's name as $1; so does this call
        '_skupper_podman_completion skupper-podman; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {"PATH": f"{CLI.parent}:/usr/bin:/bin", "HOME": "/nonexistent"}
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return result.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_and_options() -> None:
    assert CLI.is_file(), CLI
    assert complete("sy") == ["system"]
    assert sorted(complete("system", "st")) == ["start", "status", "stop"]
    assert "--routing-key" in complete("listener", "create", "--rout")
    assert complete("site", "rotate-certs", "--fi") == ["--finish"]
