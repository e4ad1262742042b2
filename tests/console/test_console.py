"""`skupper-podman console` of a three-site network, looked at in a real browser.

Three sites on this host (a hub with link access, east and west linked to it), a service
with its listener on east and its connector on west, one flow through it, a grant on the
hub. The console of the hub is read as JSON, then loaded in headless Chromium (Debian's
``chromium``): the page must show each site, link and service, the flow and the hub's own
certificates and grant, and a screenshot is kept in ``test-artifacts/``. Bound elsewhere
than loopback, the console wants its login token.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import init_linkable_site, ok
from tests.ports import free_port
from tests.router.http_peers import Http1Backend, body
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import wait_for_port

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must run the browser test: no chromium (scripts/test installs it)")
        pytest.skip("no chromium on this machine (Debian package chromium)")
    return found


def browser(*arguments: str, profile: Path) -> str:
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def console_process(skupper_home: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(*options: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "skupper-podman"), "console", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "SKUPPER_PODMAN_HOME": str(skupper_home)},
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        body: bytes = answer.read()
    return body


def wait_for_view(url: str, check: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        view = json.loads(get(url))
        if check(view):
            return view
        time.sleep(0.5)
    raise AssertionError(f"the console's view never got there: {json.dumps(view)[:3000]}")


def test_the_console_shows_the_network_in_a_browser(tmp_path: Path, console_process: Any) -> None:
    init_linkable_site("hub")
    ok("site", "init", "east", "-n", "east")
    ok("site", "init", "west", "-n", "west")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "-n", "hub", "--host", "127.0.0.1").stdout)
    for site in ("east", "west"):
        ok("link", "create", str(link_file), "-n", site, "--wait")
    backend = Backend(EchoHandler)
    port = free_port()
    ok("connector", "create", "db", str(backend.port), "--host", "127.0.0.1", "-n", "west")
    ok("listener", "create", "db", str(port), "-n", "east")
    wait_for_port(port, timeout=30)
    assert echo_once(port, b"x" * 1000) == b"x" * 1000

    ok("token", "issue", "--name", "for-north", "--host", "127.0.0.1", "-n", "hub")
    console_port = free_port()
    process = console_process("--port", str(console_port), "-n", "hub")
    wait_for_port(console_port, timeout=30)
    base = f"http://127.0.0.1:{console_port}/"

    def complete(view: dict[str, Any]) -> bool:
        sites = {s["name"] for s in view["sites"]}
        links = {(link["source"], link["target"], link["up"]) for link in view["links"]}
        db = view["services"].get("db", [])
        flows = [f for f in view["flows"] if f["key"] == "db" and f["bytes_in"] == 1000]
        return (
            sites == {"hub", "east", "west"}
            and links == {("east", "hub", True), ("west", "hub", True)}
            and {(e["kind"], e["site"]) for e in db}
            == {("listener", "east"), ("connector", "west")}
            and any(f["connector_site"] == "west" and f["bytes_out"] == 1000 for f in flows)
        )

    wait_for_view(base + "api/network", complete)
    # HTTP requests while the console listens: counted per service, by status
    web, web_port = Http1Backend(), free_port()
    ok("connector", "create", "web", str(web.port), "--host", "127.0.0.1", "-n", "west")
    ok("listener", "create", "web", str(web_port), "-n", "east")
    wait_for_port(web_port, timeout=30)
    urls = [f"http://127.0.0.1:{web_port}/{size}" for size in (10, 2000, 30)]
    fetched = subprocess.run(["curl", "-sS", "--max-time", "20", *urls], capture_output=True)
    assert fetched.stdout == body(10) + body(2000) + body(30), fetched.stderr

    def requests_counted(view: dict[str, Any]) -> bool:
        http = view["http"].get("web", {})
        return bool(http.get("statuses") == {"2xx": 3} and http.get("methods") == {"GET": 3})

    wait_for_view(base + "api/network", requests_counted)

    profile = tmp_path / "chromium"
    dom = browser("--virtual-time-budget=5000", "--dump-dom", base, profile=profile)
    assert "Application network, as seen from site hub" in dom
    for site in ("hub", "east", "west"):
        assert f"<td>{site}</td>" in dom, dom[:4000]
    assert dom.count('class="link up"') == 2 and "<td>db</td>" in dom
    http = dom.split('<table id="http">', 1)[1].split("</table>", 1)[0]
    assert "<td>web</td><td>3</td>" in http and "2xx: 3" in http, http
    assert "db on east :" in dom and f"db on west 127.0.0.1:{backend.port}" in dom
    # this site's own: its certificates with their expiry, its grant
    assert "<h2>This site (hub)</h2>" in dom and "<td>for-north</td><td>active</td>" in dom
    assert dom.count("<tr><td>") > 10 and "<th>expires</th>" in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "console.png"
    screenshot.unlink(missing_ok=True)
    browser("--window-size=1280,1100", f"--screenshot={screenshot}", base, profile=profile)
    assert screenshot.stat().st_size > 10_000
    assert process.poll() is None
    # east's console: its own link to the hub, up
    east_port = free_port()
    console_process("--port", str(east_port), "-n", "east")
    wait_for_port(east_port, timeout=30)
    live = get(f"http://127.0.0.1:{east_port}/live").decode()
    own_links = live.split('<table id="site-links">', 1)[1].split("</table>", 1)[0]
    assert '<td class="up">up</td>' in own_links and "<td>hub</td>" in own_links, own_links
    backend.close()
    web.close()


def test_elsewhere_than_loopback_the_console_wants_its_token(console_process: Any) -> None:
    ok("site", "init", "solo", "-n", "solo")
    console_port = free_port()
    process = console_process("--host", "127.0.0.2", "--port", str(console_port), "-n", "solo")
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line.split(": ", 1)[1].split()[0]
    assert url.startswith(f"http://127.0.0.2:{console_port}/?token=")
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(f"http://127.0.0.2:{console_port}/api/network")
    assert refused.value.code == 401
    assert json.loads(get(url.replace("/?", "/api/network?")))["sites"] is not None
    taken = console_process("--host", "127.0.0.2", "--port", str(console_port), "-n", "solo")
    assert taken.wait(timeout=30) == 1
    assert taken.stderr is not None
    assert taken.stderr.read().strip() == (
        f"error: port {console_port} on 127.0.0.2 is in use: give another with --port"
    )
