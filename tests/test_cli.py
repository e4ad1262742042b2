"""The CLI end to end with CliRunner: each command's happy path and its bad inputs.

Bad inputs must give one clear line on stderr, a non-zero exit, and leave nothing
half-made on disk. Tests that start sites use the real router (`router_available`).
"""

from __future__ import annotations

import base64
import json
import os
import platform
import socket
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from skupper_podman.site import ports
from skupper_podman.site.lifecycle import DEFAULT_EDGE_PORT
from skupper_podman.site.migration import open_site
from tests.cli_helpers import (
    fails,
    files_under,
    init_linkable_site,
    namespace_folder,
    ok,
    status_json,
)
from tests.ports import ephemeral_floor, free_port

# --- without a router -------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["site", "status"],
        ["link", "generate"],
        ["link", "create", "link.yaml"],
        ["link", "status"],
        ["link", "delete", "l"],
        ["listener", "create", "l", "8080", "--routing-key", "k"],
        ["listener", "list"],
        ["listener", "status"],
        ["listener", "delete", "l"],
        ["connector", "create", "c", "8080", "--routing-key", "k", "--host", "h"],
        ["connector", "list"],
        ["connector", "status"],
        ["connector", "delete", "c"],
    ],
)
def test_unknown_namespace(command: list[str], skupper_home: Path) -> None:
    message = fails(*command, "-n", "nowhere")
    assert message == "no site in namespace nowhere: run 'skupper-podman site init' first"
    assert files_under(skupper_home) == []


def test_invalid_namespace_name() -> None:
    assert fails("site", "init", "-n", "Not_Valid").startswith("invalid namespace 'Not_Valid'")


@pytest.mark.parametrize("kind", ["listener", "connector"])
def test_the_routing_key_defaults_to_the_name(kind: str) -> None:
    """As in Skupper: `listener create db 5432` serves the routing key db."""
    host = ["--host", "db.internal"] if kind == "connector" else []
    document = yaml.safe_load(ok(kind, "generate", "db", "5432", *host).stdout)
    assert document["spec"]["routingKey"] == "db"
    explicit = ok(kind, "generate", "db", "5432", *host, "--routing-key", "postgres").stdout
    assert yaml.safe_load(explicit)["spec"]["routingKey"] == "postgres"


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ("0", "invalid listener db: port: Input should be greater than or equal to 1"),
        ("65536", "invalid listener db: port: Input should be less than or equal to 65535"),
    ],
)
def test_invalid_listener_port(port: str, expected: str) -> None:
    assert fails("listener", "create", "db", port, "--routing-key", "db") == expected


def test_non_numeric_port_is_a_usage_error() -> None:
    assert "Invalid value for 'port'" in fails(
        "listener", "create", "db", "abc", "--routing-key", "db", code=2
    )


def test_site_init_with_port_in_use_leaves_nothing(busy_port: int, skupper_home: Path) -> None:
    message = fails("site", "init", "--link-access", "--port", str(busy_port), "-n", "east")
    assert message == f"port {busy_port} for link access is in use on 0.0.0.0"
    assert files_under(skupper_home) == []


@pytest.mark.parametrize("port", ["0", "70000"])
def test_site_init_with_invalid_port(port: str, skupper_home: Path) -> None:
    assert fails("site", "init", "--link-access", "--port", port).startswith(f"invalid port {port}")
    assert files_under(skupper_home) == []


def test_site_init_with_invalid_name(skupper_home: Path) -> None:
    assert fails("site", "init", "Bad_Name").startswith("invalid site name: name: must be")
    assert files_under(skupper_home) == []


def test_unknown_platform(skupper_home: Path) -> None:
    assert fails("site", "init", "--platform", "vms").startswith("unknown platform 'vms'")
    assert files_under(skupper_home) == []


def test_site_delete_of_nothing_is_fine() -> None:
    assert "nothing to delete" in ok("site", "delete", "-n", "empty").stdout


# --- with the real router ---------------------------------------------------------------


@pytest.fixture
def east(router_available: None) -> str:
    """A running site with link access in namespace `east`."""
    return init_linkable_site("east")


@pytest.fixture
def west(router_available: None) -> str:
    ok("site", "init", "west", "-n", "west")
    return "west"


def test_site_init_status_delete(east: str, skupper_home: Path) -> None:
    folder = namespace_folder(skupper_home, east)
    on_disk = files_under(folder)
    assert "resources/Site-east.yaml" in on_disk
    assert "resources/RouterAccess-skupper-router.yaml" in on_disk
    assert "runtime/skrouterd.json" in on_disk and "runtime/router.pid" in on_disk
    assert "certs/skupper-site-server/tls.key" in on_disk
    assert (folder / "certs/skupper-site-server/tls.key").stat().st_mode & 0o077 == 0
    found = status_json("site", "status", "-n", east)
    assert found["name"] == "east" and found["routerAnswering"] is True
    assert found["routerState"] == "running"
    assert found["router"]["id"] == "east"
    # Every port the site binds is its own: none was chosen twice (none is bound at init).
    store = open_site(east)
    facts, resources = store.facts(), store.load()
    assert resources.router_access is not None
    bound: list[int | None] = [role.port for role in resources.router_access.spec.roles]
    bound += [facts.grant_server_port, facts.management_port, facts.metrics_port]
    assert None not in bound and len(set(bound)) == len(bound) == 5, bound
    # The router's own loopback ports lie below the kernel's ephemeral range: no outgoing
    # connection can hold one while the site is stopped.
    assert facts.metrics_port is not None
    assert max(facts.management_port, facts.metrics_port) < ephemeral_floor(), bound
    ok("site", "delete", "-n", east)
    assert not folder.exists()
    ok("site", "delete", "-n", east)  # idempotent


def test_skupper_s_verb_and_flags_create_the_same_site(router_available: None) -> None:
    link_port = str(free_port())
    ok("site", "create", "north", "--enable-link-access", "--bind-host", "127.0.0.1",
       "--port", link_port, "-p", "linux", "-n", "north")  # fmt: skip
    found = status_json("site", "status", "-n", "north")
    assert found["name"] == "north" and found["platform"] == "linux"
    assert found["linkAccessPort"] == int(link_port)
    ok("site", "delete", "-n", "north")
    assert ok("site", "--help").stdout.count("create") == 1  # listed once: "(also: site create)"


def test_version_of_the_cli_and_of_a_site_s_router(west: str) -> None:
    from skupper_podman import __version__
    from skupper_podman.router import VERSION

    assert status_json("version", "-n", "nowhere") == {
        "cli": __version__,
        "python": platform.python_version(),
    }
    found = status_json("version", "-n", west)
    assert found["site"] == west and found["platform"] == "linux"
    assert found["router"] == VERSION  # as the running router reports it
    assert "engine" not in found  # a plain process: no engine (tests/engines check one)


def test_site_init_twice_is_a_clash(east: str) -> None:
    assert fails("site", "init", "-n", east) == (
        "namespace east already has a site: 'site delete' it first"
    )


def test_default_link_port_skips_a_busy_one(router_available: None) -> None:
    with socket.socket() as holder:
        for _attempt in range(10):  # another program may take the port between the calls
            taken = ports.first_free("0.0.0.0", 55671)
            try:
                holder.bind(("0.0.0.0", taken))
                break
            except OSError:
                continue
        holder.listen()
        ok("site", "init", "--link-access", "-n", "busy")
    chosen = status_json("site", "status", "-n", "busy")["linkAccessPort"]
    assert chosen > taken


def test_grant_port_asked_for_is_not_taken_by_the_default_edge_port(
    router_available: None,
) -> None:
    wanted = ports.first_free("127.0.0.1", DEFAULT_EDGE_PORT)  # where the edge port would go
    ok("site", "init", "--link-access", "--bind-host", "127.0.0.1", "--port", str(free_port()),
       "--grant-port", str(wanted), "-n", "grant")  # fmt: skip
    store = open_site("grant")
    access = store.load().router_access
    assert access is not None and store.facts().grant_server_port == wanted
    assert wanted not in {role.port for role in access.spec.roles}


def test_listener_lifecycle(west: str, skupper_home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pid_file = namespace_folder(skupper_home, west) / "runtime" / "router.pid"
    router_pid = pid_file.read_text()
    ok("listener", "create", "db", str(port), "-n", west)  # the routing key: the name
    assert pid_file.read_text() == router_pid  # reloaded, not restarted
    assert status_json("listener", "list", "-n", west) == [
        {"name": "db", "routingKey": "db", "host": "127.0.0.1", "port": port, "type": "tcp"}
    ]
    listed = yaml.safe_load(ok("listener", "list", "-n", west, "-o", "yaml").stdout)
    assert listed[0]["name"] == "db"
    reported = status_json("listener", "status", "db", "-n", west)
    assert reported[0]["name"] == "db" and reported[0]["routingKey"] == "db"
    clash = fails("listener", "create", "db", str(port + 1), "--routing-key", "x", "-n", west)
    assert clash == "a listener named db already exists in namespace west"
    ok("listener", "delete", "db", "-n", west)
    assert status_json("listener", "list", "-n", west) == []
    assert fails("listener", "delete", "db", "-n", west) == "no listener named db in namespace west"
    assert not any("Listener" in f for f in files_under(namespace_folder(skupper_home, west)))


def test_listener_port_in_use(west: str, busy_port: int, skupper_home: Path) -> None:
    message = fails("listener", "create", "db", str(busy_port), "--routing-key", "db", "-n", west)
    assert message == f"port {busy_port} for listener db is in use on 127.0.0.1"
    assert not any("Listener" in f for f in files_under(namespace_folder(skupper_home, west)))


def test_listener_port_claimed_by_another_listener(west: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ok("listener", "create", "a", str(port), "--routing-key", "a", "-n", west)
    message = fails("listener", "create", "b", str(port), "--routing-key", "b", "-n", west)
    assert message == f"port {port} for listener b is already used by listener a (west)"


def test_connector_lifecycle(west: str) -> None:
    ok(
        "connector",
        "create",
        "web",
        "8080",
        "--routing-key",
        "web",
        "--host",
        "127.0.0.1",
        "-n",
        west,
    )
    assert status_json("connector", "list", "-n", west) == [
        {"name": "web", "routingKey": "web", "host": "127.0.0.1", "port": 8080, "type": "tcp"}
    ]
    assert status_json("connector", "status", "-n", west)[0]["name"] == "web"
    clash = fails(
        "connector", "create", "web", "81", "--routing-key", "w", "--host", "h", "-n", west
    )
    assert clash == "a connector named web already exists in namespace west"
    ok("connector", "delete", "web", "-n", west)
    assert status_json("connector", "list", "-n", west) == []


def test_link_generate_needs_link_access(west: str) -> None:
    assert fails("link", "generate", "-n", west) == (
        "site west has no link access: init it with 'skupper-podman site init --link-access'"
    )


def test_link_generate_prints_link_and_secret(east: str) -> None:
    result = ok("link", "generate", "--host", "127.0.0.1", "--cost", "3", "-n", east)
    link, secret = yaml.safe_load_all(result.stdout)
    assert link["apiVersion"] == "skupper.io/v2alpha1" and link["kind"] == "Link"
    assert link["metadata"]["name"] == "link-east"
    assert link["spec"]["cost"] == 3
    assert link["spec"]["endpoints"][0]["name"] == "inter-router"
    assert link["spec"]["tlsCredentials"] == secret["metadata"]["name"]
    assert secret["kind"] == "Secret" and secret["type"] == "kubernetes.io/tls"
    assert sorted(secret["data"]) == ["ca.crt", "tls.crt", "tls.key"]
    assert result.stderr == ""


def test_link_generate_refuses_a_host_not_in_the_certificate(east: str) -> None:
    message = fails("link", "generate", "--host", "elsewhere.example", "-n", east)
    assert message.startswith("host 'elsewhere.example' is not in this site's certificate")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not yaml: [", "not valid YAML"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "unsupported kind"),
        (
            "apiVersion: skupper.io/v2alpha1\nkind: Link\nmetadata: {name: l}\n"
            "spec: {endpoints: [], tlsCredentials: l}\n",
            "spec.endpoints: List should have at least 1 item",
        ),
        (
            "apiVersion: skupper.io/v2alpha1\nkind: Link\nmetadata: {name: l}\n"
            "spec: {endpoints: [{name: inter-router, host: h, port: 1}], tlsCredentials: l}\n",
            "no Secret named 'l'",
        ),
    ],
)
def test_malformed_link_file(
    west: str, tmp_path: Path, skupper_home: Path, content: str, expected: str
) -> None:
    before = files_under(namespace_folder(skupper_home, west))
    link_file = tmp_path / "link.yaml"
    link_file.write_text(content)
    assert expected in fails("link", "create", str(link_file), "-n", west)
    assert files_under(namespace_folder(skupper_home, west)) == before


def test_link_file_missing(west: str, tmp_path: Path) -> None:
    message = fails("link", "create", str(tmp_path / "absent.yaml"), "-n", west)
    assert message.startswith("cannot read link file")


def test_two_sites_linked(east: str, west: str, tmp_path: Path) -> None:
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", east).stdout)
    ok("link", "create", str(link_file), "--name", "to-east", "--cost", "2", "-n", west)
    clash = fails("link", "create", str(link_file), "--name", "to-east", "-n", west)
    assert clash == "a link named to-east already exists in namespace west"
    deadline = time.monotonic() + 15
    while True:
        (link,) = status_json("link", "status", "-n", west)
        if link["up"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert link["up"] is True, link
    assert link["remoteSite"] == "east"
    assert link["name"] == "to-east"
    ok("link", "delete", "to-east", "-n", west)
    assert status_json("link", "status", "-n", west) == []
    assert (
        fails("link", "delete", "to-east", "-n", west) == "no link named to-east in namespace west"
    )


def test_link_file_of_own_site_is_refused(east: str, tmp_path: Path) -> None:
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", east).stdout)
    message = fails("link", "create", str(link_file), "-n", east)
    assert message.endswith("this link file was generated by this site; create it on another site")


def test_image_build_on_a_platform_without_images_is_one_error_line() -> None:
    message = fails("image", "build", "--platform", "linux")
    assert message == "images are for podman or docker, not 'linux'"


def test_debug_dump_has_what_a_report_needs_and_no_secret(
    east: str, west: str, tmp_path: Path
) -> None:
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", east).stdout)
    ok("link", "create", str(link_file), "-n", west)  # west now holds a private key
    token = yaml.safe_load(ok("token", "issue", "--host", "127.0.0.1", "-n", east).stdout)
    secrets = [token["spec"]["code"].encode()]
    for namespace in (east, west):
        folder = namespace_folder(Path(os.environ["SKUPPER_PODMAN_HOME"]), namespace)
        secrets += [key.read_bytes().strip() for key in folder.glob("certs/*/tls.key")]
        secrets += [base64.b64encode(key.read_bytes()) for key in folder.glob("certs/*/tls.key")]
    for namespace in (east, west):
        target = tmp_path / f"{namespace}.tar.gz"
        ok("debug", "dump", str(target), "-n", namespace)
        assert target.stat().st_mode & 0o077 == 0
        with tarfile.open(target) as tar:
            members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
        for name in ("versions.json", "status.json", "runtime/skrouterd.json", "router.log"):
            assert name in members, sorted(members)
        assert f"resources/Site-{namespace}.yaml" in members
        assert any(name.startswith("certs/") and name.endswith(".crt") for name in members)
        assert json.loads(members["status.json"])["name"] == namespace
        assert members["router.log"].strip()
        for name, data in members.items():
            assert not name.endswith(".key") and b"PRIVATE KEY" not in data, name
            assert not any(secret in data for secret in secrets), name
    secret = yaml.safe_load(
        next(d for n, d in members.items() if n.startswith("resources/Secret-"))
    )
    assert secret["data"]["tls.key"] == "<redacted>" and secret["data"]["tls.crt"] != "<redacted>"
