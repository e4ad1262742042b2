"""What a test leaves behind: threads and child processes still alive after it.

The autouse fixture ``no_leaks`` (tests/conftest.py) fails the test that leaks, so that
one test's leftovers (a server thread writing into the next test's captured output, a
router holding a port) never turn up as another test's failure."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

GRACE_SECONDS = 5.0  # threads and processes that are already ending get this long
# Threads that live as long as the process by design, made once on first use: the grant
# server's redemption worker (skupper_podman/router/grants.py).
PROCESS_WIDE = ("grant-redemption",)


def threads() -> set[threading.Thread]:
    return {
        t for t in threading.enumerate() if t.is_alive() and not t.name.startswith(PROCESS_WIDE)
    }


def children() -> set[int]:
    """Our live child processes (zombies are gone in all but name)."""
    me = str(os.getpid())
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def describe_thread(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)
    where = getattr(target, "__qualname__", "") if target is not None else type(thread).__name__
    return f"thread {thread.name} ({where})"


def describe_process(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        command = "?"
    return f"process {pid} ({command.strip()[:120]})"


def left_behind(threads_before: set[threading.Thread], children_before: set[int]) -> list[str]:
    """What is alive now that was not before, after up to GRACE_SECONDS to end."""
    deadline = time.monotonic() + GRACE_SECONDS
    while True:
        new_threads = threads() - threads_before
        new_children = children() - children_before
        if (not new_threads and not new_children) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return [describe_thread(t) for t in new_threads] + [describe_process(p) for p in new_children]
