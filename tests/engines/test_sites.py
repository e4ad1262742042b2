"""Two sites on one host as containers, on rootful Podman, rootless Podman and Docker.

west (link access) runs a real HTTP backend container behind a connector; east links to
west with a generated link file and has a listener for the backend's routing key: a
client container on east's network reaches it by the routing key's name, a host client
through the published port. While a long download runs, a listener and a connector are
added and removed; the download completes intact and the router is never restarted.
`site delete` leaves nothing carrying the sites' labels.

The link goes to the gateway of east's own network, where the engine forwards west's
published link port (never to this machine's external address).
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import tarfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from skupper_podman.engines.base import LABEL_SITE_ID
from skupper_podman.router import VERSION as ROUTER_VERSION
from tests.engines.conftest import TEST_LABEL, Target
from tests.ports import free_port

BIG_BYTES = 24 * 1024 * 1024
BACKEND_PORT = 8080
INDEX = "hello from the west backend"
BACKEND_SCRIPT = (
    "mkdir -p /tmp/www && cd /tmp/www && "
    f"echo '{INDEX}' > index.html && "
    f"head -c {BIG_BYTES} /dev/urandom > big && sha256sum big | cut -d' ' -f1 > big.sha && "
    f"exec python3 -m http.server {BACKEND_PORT}"
)


def status(target: Target, home: Path, *command: str) -> Any:
    return json.loads(target.cli(*command, "-o", "json", home=home).stdout)


def wait_for(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as error:  # not ready yet: keep the reason for the failure
            last = error
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached within {timeout:.0f} s: {last!r}")


def wait_serving(target: Target, container: str, port: int) -> None:
    """The test's own backend container listens (its script prepares files first)."""
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"
    wait_for(
        f"{container} to listen on {port}",
        lambda: target.tool("exec", container, "python3", "-c", probe) is not None,
    )


def wait_resolvable(target: Target, router: str, name: str) -> None:
    """The engine's DNS answers ``name`` inside the router container. Rootless Podman's
    aardvark answered "temporary failure" for a container started just before (the router
    then asks again: router/backend_dial.py); the test's one request waits for it."""
    lookup = f"import socket; socket.getaddrinfo('{name}', None)"
    wait_for(
        f"{name} to resolve in {router}",
        lambda: target.tool("exec", router, "python3", "-c", lookup) is not None,
    )


def wait_listener_up(target: Target, home: Path, namespace: str, name: str) -> None:
    """The site's router listens for ``name``: its routing key is reachable (a state read
    from management, not a request through the network)."""
    wait_for(
        f"listener {name} of {namespace} up",
        lambda: (
            status(target, home, "listener", "status", name, "-n", namespace)[0]["status"] == "up"
        ),
    )


def _forwarder_view(target: Target) -> str:
    """What the listener container sees of its router: its DNS, the name's lookup (timed),
    and its forwarder's command line."""
    script = (
        "cat /etc/resolv.conf; date +%T; getent ahosts skupper-east-router; date +%T; "
        "tr '\\0' ' ' </proc/1/cmdline; echo"
    )
    try:
        return target.tool("exec", "skupper-east-listener-web", "sh", "-c", script)
    except Exception as error:  # the view is for the failure message only
        return f"(no view of the listener container: {error})"


def _connect_inside(target: Target, port: int) -> str:
    """A connection to the listener container's port from inside it: what it got."""
    script = (
        "import socket, time\n"
        f"s = socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
        "s.settimeout(15)\n"
        "start = time.monotonic()\n"
        "try: print('a connection from inside got', s.recv(100), time.monotonic() - start)\n"
        "except Exception as e: print('a connection from inside:', e, time.monotonic() - start)\n"
    )
    try:
        return target.tool("exec", "skupper-east-listener-web", "python3", "-c", script)
    except Exception as error:  # for the failure message only
        return f"(no connection from inside: {error})"


def fetch(port: int, path: str, timeout: float = 30) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=timeout) as reply:
        data: bytes = reply.read()
    return data


HOST_ALIAS = "host.containers.internal"


def gateway(target: Target, network: str) -> str:
    raw = json.loads(target.tool("network", "inspect", network))[0]
    subnets = raw.get("subnets") or raw.get("IPAM", {}).get("Config") or []
    found = [s.get("gateway") or s.get("Gateway") for s in subnets]
    return str(next(g for g in found if g and ":" not in g))


def host_for_links(target: Target, network: str) -> str:
    """How containers on ``network`` reach a site published on the host. Podman: the
    network's gateway (a kernel path; it stays when the network is made again, Podman
    takes the first free subnet). Not host.containers.internal: rootless Podman reaches
    that through slirp4netns, which cut a link carrying a bulk transfer in CI (the far end
    saw the close 2 s before the near end's router noticed anything). Docker: the host
    name, since Docker gives a network made again another subnet (172.18 -> 172.20)."""
    return HOST_ALIAS if target.engine == "docker" else gateway(target, network)


def site_labels(target: Target, home: Path, namespace: str) -> dict[str, str]:
    facts = json.loads((home / "namespaces" / namespace / "runtime" / "container.json").read_text())
    return {LABEL_SITE_ID: facts["siteId"]}


def run_test_container(target: Target, network: str, name: str, *command: str) -> str:
    return target.tool(
        "run",
        "--name",
        name,
        "--network",
        network,
        "--label",
        f"{TEST_LABEL}=1",
        *command,
    )


def held_download(port: int, changes_done: threading.Event, into: dict[str, Any]) -> None:
    """Read part of the big file, hold the flow open until the live changes are done,
    then read the rest."""
    digest = hashlib.sha256()
    total = 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/big", timeout=240) as reply:
            while chunk := reply.read(256 * 1024):
                digest.update(chunk)
                total += len(chunk)
                if total >= BIG_BYTES // 3 and not changes_done.is_set():
                    into["held"] = True
                    changes_done.wait(timeout=180)
        into["sha"], into["bytes"] = digest.hexdigest(), total
    except Exception as error:
        into["error"] = repr(error)


def test_two_sites_linked_with_live_changes(target: Target) -> None:
    home = target.new_home()
    web_port = free_port()
    target.cli("site", "init", "east", "-n", "east", home=home)
    east_host = host_for_links(target, "skupper-east")
    target.cli(
        "site",
        "init",
        "west",
        "-n",
        "west",
        "--link-access",
        "--port",
        str(free_port()),
        "--grant-port",
        str(free_port()),
        "--subject-alternative-name",
        east_host,
        home=home,
    )
    west_status = status(target, home, "site", "status", "-n", "west")
    assert west_status["platform"] == target.engine and west_status["routerAnswering"] is True
    assert "running" in west_status["detail"]
    # The image's health check asks the router (a management query), as the engine would.
    health = target.tool(
        "exec", "skupper-west-router", "/usr/local/lib/skupper-router-image/healthcheck"
    )
    assert health.strip() == "healthy: router west answers"
    versions = status(target, home, "version", "-n", "west")
    assert versions["router"] == ROUTER_VERSION and versions["platform"] == target.engine
    engine_name, engine_version = versions["engine"].split(" ", 1)
    assert engine_name == target.engine and engine_version[0].isdigit()
    assert versions["routerImage"]
    dump = home / "west-dump.tar.gz"
    target.cli("debug", "dump", str(dump), "-n", "west", home=home)
    with tarfile.open(dump) as tar:
        log = tar.extractfile("skupper-dump-west/router.log")
        assert log is not None and log.read().strip()  # the router container's log

    link = target.cli("link", "generate", "--host", east_host, "-n", "west", home=home).stdout
    link_file = home / "link.yaml"
    link_file.write_text(link)
    link_file.chmod(0o644)
    target.cli("link", "create", str(link_file), "-n", "east", home=home)
    wait_for("link up", lambda: status(target, home, "link", "status", "-n", "east")[0]["up"])

    run_test_container(
        target, "skupper-west", "web-backend", "-d", target.base_image, "sh", "-c", BACKEND_SCRIPT
    )
    target.cli(
        "connector",
        "create",
        "web",
        str(BACKEND_PORT),
        "--routing-key",
        "web",
        "--host",
        "web-backend",
        "-n",
        "west",
        home=home,
    )
    target.cli(
        "listener", "create", "web", str(web_port), "--routing-key", "web", "-n", "east", home=home
    )

    # A host client through the published listener port: one request, once ready.
    wait_serving(target, "web-backend", BACKEND_PORT)
    wait_resolvable(target, "skupper-west-router", "web-backend")
    wait_listener_up(target, home, "east", "web")
    assert fetch(web_port, "index.html").decode().strip() == INDEX
    expected_sha = fetch(web_port, "big.sha").decode().strip()

    # A client container on east's network, by the routing key's name.
    script = (
        "import urllib.request; "
        f"print(urllib.request.urlopen('http://web:{web_port}/index.html', timeout=10).read()"
        ".decode().strip())"
    )
    inside = run_test_container(
        target, "skupper-east", "web-client", "--rm", target.base_image, "python3", "-c", script
    )
    assert inside.strip() == INDEX

    # Live changes while a long transfer runs.
    instances_before = {
        ns: status(target, home, "site", "status", "-n", ns)["router"]["instance"]
        for ns in ("east", "west")
    }
    download: dict[str, Any] = {}
    changes_done = threading.Event()
    reader = threading.Thread(target=held_download, args=(web_port, changes_done, download))
    reader.start()
    wait_for("the transfer to be under way", lambda: download.get("held"))
    extra_port = free_port()
    target.cli(
        "listener",
        "create",
        "extra",
        str(extra_port),
        "--routing-key",
        "web",
        "-n",
        "east",
        home=home,
    )
    target.cli(
        "connector",
        "create",
        "extra",
        str(BACKEND_PORT),
        "--routing-key",
        "other",
        "--host",
        "web-backend",
        "-n",
        "west",
        home=home,
    )
    wait_listener_up(target, home, "east", "extra")
    assert fetch(extra_port, "index.html").decode().strip() == INDEX
    target.cli("listener", "delete", "extra", "-n", "east", home=home)
    target.cli("connector", "delete", "extra", "-n", "west", home=home)
    assert reader.is_alive(), download
    changes_done.set()
    reader.join(timeout=240)
    assert download.get("error") is None, download
    assert download["bytes"] == BIG_BYTES and download["sha"] == expected_sha
    # Reloaded, never restarted: each router still runs as the same instance.
    instances_after = {
        ns: status(target, home, "site", "status", "-n", ns)["router"]["instance"]
        for ns in ("east", "west")
    }
    assert instances_after == instances_before

    # Stopped, its containers and network are gone; started again, it is the same site.
    labels = {ns: site_labels(target, home, ns) for ns in ("east", "west")}
    target.cli("system", "stop", "-n", "east", home=home)
    with _nullcontext(target) as engine:
        assert not engine.find(labels["east"]), engine.find(labels["east"])
    stopped = target.cli("system", "status", "-n", "east", "-o", "json", home=home, check=False)
    assert stopped.returncode == 1 and json.loads(stopped.stdout)["routerState"] == "stopped"
    target.cli("system", "start", "-n", "east", home=home)
    assert host_for_links(target, "skupper-east") == east_host
    wait_for("link up again", lambda: status(target, home, "link", "status", "-n", "east")[0]["up"])
    wait_listener_up(target, home, "east", "web")
    assert fetch(web_port, "index.html").decode().strip() == INDEX
    assert site_labels(target, home, "east") == labels["east"]
    # As after a reboot without units: the containers are there, stopped; start again.
    site_filter = "label=" + ",".join(f"{k}={v}" for k, v in labels["east"].items())
    stopped_names = target.tool("ps", "-a", "-q", "--filter", site_filter).split()
    assert len(stopped_names) == 2, stopped_names  # the router and the listener's forwarder
    target.tool("stop", "-t", "2", *stopped_names)
    target.cli("system", "start", "-n", "east", home=home)
    wait_for("link up again", lambda: status(target, home, "link", "status", "-n", "east")[0]["up"])
    wait_listener_up(target, home, "east", "web")
    assert fetch(web_port, "index.html").decode().strip() == INDEX

    # Link access turned on for east: its router is made again to publish the ports.
    access_port = free_port()
    target.cli("site", "update", "--enable-link-access", "--port", str(access_port),
               "--grant-port", str(free_port()), "-n", "east", home=home)  # fmt: skip
    east_status = status(target, home, "site", "status", "-n", "east")
    assert east_status["linkAccessPort"] == access_port and east_status["routerAnswering"]
    assert "kind: Link" in target.cli("link", "generate", "-n", "east", home=home).stdout
    wait_for("link up again", lambda: status(target, home, "link", "status", "-n", "east")[0]["up"])
    wait_listener_up(target, home, "east", "web")
    assert fetch(web_port, "index.html").decode().strip() == INDEX

    # A listener container that cannot reach its router: status says so, as does its log.
    assert status(target, home, "site", "status", "-n", "east")["serviceErrors"] == []
    target.tool("network", "disconnect", "skupper-east", "skupper-east-router")
    cut = target.cli("site", "status", "-n", "east", "-o", "json", home=home, check=False)
    problems = json.loads(cut.stdout)["serviceErrors"]
    assert any(
        p.startswith("listener web: its container cannot reach skupper-east-router:")
        for p in problems
    ), problems
    try:  # accepted, then closed: it cannot reach the router
        fetched = f"the fetch through it got {len(fetch(web_port, 'index.html', timeout=10))} B"
    except OSError as error:
        fetched = f"the fetch through it failed: {error}"

    def forwarder_log() -> str:  # as a user reads it (Podman 4.3's --tail lost split lines)
        command = [*target.tool_command, "logs", "--tail", "20", "skupper-east-listener-web"]
        found = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        return found.stdout + found.stderr  # the container's stderr comes on stderr

    def forwarder_says_so() -> bool:
        # its connect to the router's old address may first wait out its timeout (10 s)
        return "cannot reach the router at skupper-east-router:" in forwarder_log()

    try:
        wait_for("the listener container to log that it cannot reach the router", forwarder_says_so)
    except AssertionError as failed:  # say what it saw
        its_log, view = forwarder_log(), _forwarder_view(target)
        inside = _connect_inside(target, web_port)  # past the engine's port forwarding
        raise AssertionError(
            f"{failed}\n{fetched}\nits log:\n{its_log}\n{view}\n{inside}\n"
            f"its log after that connection:\n{forwarder_log()}"
        ) from None

    # Clean removal, by label.
    target.tool("rm", "-f", "web-backend")
    for namespace in ("east", "west"):
        target.cli("site", "delete", "-n", namespace, home=home)
    with _nullcontext(target) as engine:
        for namespace, selector in labels.items():
            assert not engine.find(selector), f"{namespace} left {engine.find(selector)}"
        assert not engine.network_exists("skupper-east")


def test_failed_init_rolls_back_and_errors_are_one_line(target: Target) -> None:
    home = target.new_home()
    result = target.cli(
        "site", "init", "-n", "broken", "--router-image", "no-such-image:1", home=home, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: image no-such-image:1 is not in "
        f"{target.engine}: build it or load it first (skupper-podman image build --tag NAME)"
    ]
    assert not (home / "namespaces" / "broken").exists()

    target.cli("site", "init", "-n", "ok", home=home)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        result = target.cli(
            "listener",
            "create",
            "db",
            str(busy),
            "--routing-key",
            "db",
            "-n",
            "ok",
            home=home,
            check=False,
        )
    assert result.stderr.strip() == f"error: port {busy} for listener db is in use on 127.0.0.1"
    labels = site_labels(target, home, "ok")
    target.cli("site", "delete", "-n", "ok", home=home)
    with _nullcontext(target) as engine:
        assert not engine.find(labels)


class _nullcontext:
    def __init__(self, target: Target) -> None:
        self._engine = target.connect()

    def __enter__(self) -> Any:
        return self._engine

    def __exit__(self, *_exc: object) -> None:
        self._engine.close()
