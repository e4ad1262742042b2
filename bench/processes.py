"""The processes a bench starts, and what /proc tells of them: memory, CPU, open files."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
from pathlib import Path

OPEN_FILES_WANTED = 65536  # our soft RLIMIT_NOFILE when the hard limit is unlimited


def start_process(command: list[str], log_file: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a child in its own session: a Ctrl-C reaches only us, and we stop it by pid."""
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log_file.open("wb")) if log_file else subprocess.DEVNULL
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True
        )


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process we started (by its pid), SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)


def is_our_router(pid: int) -> bool:
    try:
        return b"skupper_podman.router" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def status_kib(pid: int, name: str) -> int | None:
    """A kB field (VmRSS, VmHWM) of /proc/<pid>/status; None if the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return None


def rss_mb(pid: int | None) -> float | None:
    """Resident memory in MB (10^6 bytes, as the target is worded)."""
    kib = None if pid is None else status_kib(pid, "VmRSS")
    return None if kib is None else kib * 1024 / 1e6


def memory(pid: int | None) -> str:
    """VmRSS (and the peak, VmHWM) of a process, in MB."""
    if pid is None:
        return "no pid file"
    rss, peak = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
    if rss is None or peak is None:
        return f"pid {pid} not running"
    return f"{rss * 1024 / 1e6:.1f} MB (peak {peak * 1024 / 1e6:.1f} MB)"


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_files_limit(pid: int | None) -> str:
    """The soft 'Max open files' of a process, from /proc/<pid>/limits."""
    try:
        limits = Path(f"/proc/{pid}/limits").read_text()
    except OSError:
        return "?"
    for line in limits.splitlines():
        if line.startswith("Max open files"):
            return line.split()[3]
    return "?"


def raise_open_files() -> str:
    """Lift our soft RLIMIT_NOFILE to the hard limit, so a thousand flows' sockets fit here;
    the routers and stunnel, started by us, inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as error:
            return f"{soft} (raising it to {wanted} failed: {error})"
        return f"{wanted} (raised from {soft})"
    return f"{soft} (hard limit {hard})"
