"""Long work shows progress on a terminal and nothing in pipes or with --quiet; `--wait`
makes `link create` return once the link is up, or fail in one line saying why."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.cli_helpers import fails, init_linkable_site, ok, status_json

ROUTER_WAIT = "waiting for the router to answer"


def in_terminal(*args: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal: its exit code and all it drew."""
    leader, follower = pty.openpty()
    command = [sys.executable, "-c", "from skupper_podman.cli import main; main()", *args]
    environment = dict(os.environ, TERM="xterm-256color", COLUMNS="120")
    environment.pop("NO_COLOR", None)
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=environment
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the command ended and closed its side
            break
        if not data:
            break
        drawn += data
    code = process.wait(60)
    os.close(leader)
    return code, drawn.decode(errors="replace")


def test_a_terminal_sees_the_wait_for_the_router_and_a_pipe_does_not(
    router_available: None,
) -> None:
    code, drawn = in_terminal("site", "init", "shown", "-n", "shown")
    assert code == 0, drawn
    assert ROUTER_WAIT in drawn
    assert "Site shown" in drawn

    code, drawn = in_terminal("-q", "site", "init", "quiet", "-n", "quiet")
    assert code == 0, drawn
    assert ROUTER_WAIT not in drawn

    piped = ok("site", "init", "piped", "-n", "piped")  # stdout and stderr are not terminals
    assert ROUTER_WAIT not in piped.stdout + piped.stderr
    assert "\x1b" not in piped.stdout + piped.stderr  # no cursor or colour codes either


def test_link_create_waits_until_the_link_is_up(router_available: None, tmp_path: Path) -> None:
    east = init_linkable_site("east")
    ok("site", "init", "west", "-n", "west")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", east).stdout)
    said = ok("link", "create", str(link_file), "--name", "to-east", "--wait", "-n", "west")
    assert said.stdout == "Link to-east is up: connected to site east.\n"
    assert [link["up"] for link in status_json("link", "status", "-n", "west")] == [True]


def test_a_link_that_does_not_come_up_fails_the_wait_and_stays(
    router_available: None, tmp_path: Path
) -> None:
    east = init_linkable_site("east")
    ok("site", "init", "west", "-n", "west")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", east).stdout)
    ok("system", "stop", "-n", east)  # nothing answers at the link's address now
    error = fails(
        "link", "create", str(link_file), "--name", "to-east", "--wait", "--timeout", "2",
        "-n", "west",
    )  # fmt: skip
    assert error.startswith("link to-east is not up after 2 s (")
    assert "it stays configured and keeps trying" in error
    links = status_json("link", "status", "-n", "west")
    assert [(link["name"], link["up"]) for link in links] == [("to-east", False)]
    ok("system", "start", "-n", east)
    ok("link", "create", str(link_file), "--name", "again", "--wait", "-n", "west")
