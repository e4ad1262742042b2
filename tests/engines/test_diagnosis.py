"""Engine failures that hosts commonly have are explained with their fix, recognised from
what the engines really said (messages captured from podman, runc and crun)."""

from __future__ import annotations

import pytest

from skupper_podman.engines.diagnosis import refuse_network_backend, with_fix

SAID = {
    "ulimits": "runc: runc create failed: unable to start container process: error during "
    "container init: error setting rlimits for ready process: error setting rlimit type 7: "
    "operation not permitted: OCI permission denied",
    "ulimits (crun)": "crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted: OCI "
    "permission denied",
    "cgroups": "OCI runtime error: crun: the requested cgroup controller `pids` is not available",
    "subuid": 'cannot find UID/GID for user alice: no subuid ranges found for user "alice" '
    "in /etc/subuid",
    "subuid (lchown)": "potentially insufficient UIDs or GIDs available in user namespace "
    "(requested 0:42 for /etc/gshadow): Check /etc/subuid and /etc/subgid if configured "
    'locally and run "podman system migrate": lchown /etc/gshadow: invalid argument',
    "CNI": 'plugin type="bridge" failed (add): cni plugin bridge failed: failed to make '
    "veth pair: operation not supported",
}
FIXES = {
    "ulimits": "default_ulimits",
    "ulimits (crun)": "default_ulimits",
    "cgroups": 'cgroup_manager = "cgroupfs"',
    "subuid": "usermod --add-subuids",
    "subuid (lchown)": "usermod --add-subuids",
    "CNI": "apt install netavark aardvark-dns",
}


@pytest.mark.parametrize("failure", sorted(SAID))
def test_a_known_failure_keeps_what_the_engine_said_and_adds_the_fix(failure: str) -> None:
    explained = with_fix(SAID[failure])
    assert explained.startswith(SAID[failure] + " (fix: ")
    assert FIXES[failure] in explained
    assert "\n" not in explained


def test_an_unknown_failure_is_left_as_the_engine_said_it() -> None:
    said = "image not known"
    assert with_fix(said) == said


def test_a_podman_on_cni_is_refused_with_the_fix_and_netavark_is_not() -> None:
    refused = refuse_network_backend("cni")
    assert refused is not None and "cannot find each other by name" in refused
    assert "podman system reset" in refused
    assert refuse_network_backend("netavark") is None
