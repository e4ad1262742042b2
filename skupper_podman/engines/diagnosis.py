"""Known engine failures, recognised from what the engine said, each with its fix.

An engine error reaches the user as one line; when it is one of the failures that hosts
commonly have (limits podman may not set, no cgroup manager, no subordinate IDs, a network
backend without name resolution) the line also says what to change.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownFailure:
    pattern: re.Pattern[str]
    fix: str


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "$USER"


CNI_FIX = (
    "install netavark and aardvark-dns (Debian/Ubuntu: apt install netavark aardvark-dns; "
    'Fedora: dnf install netavark aardvark-dns), set network_backend = "netavark" under '
    "[network] in containers.conf, then run 'podman system reset' (it deletes podman's "
    "containers, images and networks)"
)

KNOWN_FAILURES = (
    KnownFailure(
        re.compile(r"rlimit|ulimit", re.IGNORECASE),
        "podman may not raise the containers' default limits on this host: put "
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"] under [containers] in '
        "~/.config/containers/containers.conf (rootless) or /etc/containers/containers.conf",
    ),
    KnownFailure(
        re.compile(r"cgroup", re.IGNORECASE),
        "the container runtime cannot use its cgroup manager: without a systemd user "
        'session put cgroup_manager = "cgroupfs" under [engine] in containers.conf, or log '
        "in through systemd ('loginctl enable-linger {user}')",
    ),
    KnownFailure(
        re.compile(
            r"subuid|subgid|newuidmap|newgidmap|not enough IDs|no subuid ranges", re.IGNORECASE
        ),
        "user {user} has no subordinate user and group IDs for rootless containers: "
        "'sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}', "
        "then 'podman system migrate'",
    ),
    KnownFailure(re.compile(r"\bCNI\b|cni plugin|/opt/cni/bin", re.IGNORECASE), CNI_FIX),
)


def with_fix(message: str) -> str:
    """``message``, and the fix when it is a known failure."""
    for failure in KNOWN_FAILURES:
        if failure.pattern.search(message):
            return f"{message} (fix: {failure.fix.format(user=_user())})"
    return message


def refuse_network_backend(backend: str) -> str | None:
    """Why a site cannot run on podman with ``backend``, or None when it can: with CNI,
    containers cannot find the router by name, and every connection to a listener would
    be accepted and reset."""
    if backend.lower() == "cni":
        return (
            "podman here uses the CNI network backend, on which a site's containers cannot "
            f"find each other by name; {CNI_FIX}"
        )
    return None
