"""The `linux` platform: the router as a detached background process of this user.

The process is `python -m skupper_podman.router.main --config runtime/skrouterd.json`
(the same interpreter as the CLI, so no PATH lookup), in its own session so it outlives
the CLI; its output goes to runtime/router.log and its pid to runtime/router.pid. A pid
file is trusted only if /proc/<pid>/cmdline still names our router and config, because
pids are reused.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from skupper_podman.errors import SkupperError
from skupper_podman.paths import NamespacePaths
from skupper_podman.platforms.base import Exposure, RouterState, RouterStatus, last_log_line

ROUTER_MODULE = "skupper_podman.router.main"
ROUTER_SCRIPT = "skupper-router"
STOP_TIMEOUT_SECONDS = 5.0
_POLL_SECONDS = 0.05
_EXEC_SETTLE_SECONDS = 0.5


def router_command(config: Path) -> list[str]:
    return [sys.executable, "-m", ROUTER_MODULE, "--config", str(config)]


class LinuxPlatform:
    name = "linux"

    def start(self, site: NamespacePaths, exposure: Exposure) -> None:
        if self._running_pid(site) is not None:
            raise SkupperError(f"the router of namespace {site.name} is already running")
        site.runtime.mkdir(parents=True, exist_ok=True)
        with open(site.log_file, "ab") as log:
            try:
                process = subprocess.Popen(
                    router_command(site.router_config.resolve()),
                    cwd=site.runtime,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                raise SkupperError(f"cannot start the router: {error}") from None
        site.pid_file.write_text(f"{process.pid}\n")

    def stop(self, site: NamespacePaths) -> None:
        pid = self._running_pid(site)
        if pid is not None:
            _signal(pid, signal.SIGTERM)
            if not _wait_for_exit(pid, STOP_TIMEOUT_SECONDS):
                _signal(pid, signal.SIGKILL)
                if not _wait_for_exit(pid, STOP_TIMEOUT_SECONDS):
                    raise SkupperError(f"the router (pid {pid}) did not exit after SIGKILL")
        site.pid_file.unlink(missing_ok=True)

    def reload(self, site: NamespacePaths, exposure: Exposure) -> None:
        pid = self._running_pid(site)
        if pid is None:
            raise SkupperError(f"the router of namespace {site.name} is not running")
        _signal(pid, signal.SIGHUP)

    def share_files(self, site: NamespacePaths) -> None:
        pass  # the router runs as the user who wrote them

    def listener_problems(self, site: NamespacePaths) -> tuple[str, ...]:
        return ()  # the router listens itself

    def status(self, site: NamespacePaths) -> RouterStatus:
        pid = self._running_pid(site)
        if pid is None:
            return RouterStatus(RouterState.STOPPED, detail="no router process")
        return RouterStatus(RouterState.RUNNING, pid=pid, detail=f"process {pid}")

    def log_tail(self, site: NamespacePaths) -> str:
        return last_log_line(self.router_log(site, 5), missing="no log")

    def router_log(self, site: NamespacePaths, lines: int) -> str | None:
        try:
            text = site.log_file.read_text(errors="replace")
        except OSError:
            return None
        return "\n".join(text.splitlines()[-lines:]) + "\n"

    def runtime_versions(self, site: NamespacePaths) -> dict[str, str]:
        return {}  # the router is this package, run by this Python

    def _running_pid(self, site: NamespacePaths) -> int | None:
        try:
            pid = int(site.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if _is_our_router(pid, site.router_config.resolve()):
            return pid
        return None


def _is_our_router(pid: int, config: Path) -> bool:
    arguments = _command_line(pid)
    decoded = [a.decode(errors="replace") for a in arguments]
    # `python -m skupper_podman.router.main` (started here) or the `skupper-router` script
    # (what the site's systemd unit runs): the same router.
    is_router = ROUTER_MODULE in decoded or any(Path(a).name == ROUTER_SCRIPT for a in decoded[:2])
    return is_router and str(config) in decoded and not _is_zombie(pid)


def _command_line(pid: int) -> list[bytes]:
    # Right after exec the kernel shows an empty command line for a moment; a process
    # that keeps an empty one is not ours (kernel threads look like that).
    deadline = time.monotonic() + _EXEC_SETTLE_SECONDS
    while True:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return []
        if raw or time.monotonic() > deadline:
            return raw.split(b"\0")
        time.sleep(0.005)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state follows the command name, which is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def _signal(pid: int, signum: signal.Signals) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise SkupperError(f"not allowed to signal the router (pid {pid})") from None


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return True
        time.sleep(_POLL_SECONDS)
    return False


def _reap(pid: int) -> None:
    # The router is our child only when this process started it (tests, `site init`
    # followed by `site delete` in one process); reaping avoids waiting on a zombie.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
