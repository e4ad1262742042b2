"""`apply -f`, `delete -f` and the `generate` commands end to end with the real router.

A bad document must give one line naming the document, the field and the problem, and
leave every file as it was.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from skupper_podman.cli import app
from skupper_podman.site.documents import APPLY_KINDS
from tests.cli_helpers import fails, namespace_folder, ok, status_json
from tests.ports import free_port

runner = CliRunner()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` but the router's own log, which grows by itself."""
    if not folder.exists():
        return {}
    files = (p for p in folder.rglob("*") if p.is_file() and p.name != "router.log")
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def apply_text(text: str, *args: str) -> str:
    result = runner.invoke(app, ["apply", "-f", "-", *args], input=text)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def apply_fails(text: str, *args: str) -> str:
    result = runner.invoke(app, ["apply", "-f", "-", *args], input=text)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("error: ")


LISTENER = """\
apiVersion: skupper.io/v2alpha1
kind: Listener
metadata:
  name: db
spec:
  routingKey: db
  port: {port}
"""


@pytest.fixture
def hub(router_available: None) -> str:
    """A running site with link access in namespace `hub` (made by `apply`)."""
    inter, edge = free_port(), free_port()
    site = f"""\
apiVersion: skupper.io/v2alpha1
kind: Site
metadata:
  name: hub
spec:
  linkAccess: default
---
apiVersion: skupper.io/v2alpha1
kind: RouterAccess
metadata:
  name: skupper-router
spec:
  roles:
  - name: inter-router
    port: {inter}
  - name: edge
    port: {edge}
  tlsCredentials: skupper-site-server
  generateTlsCredentials: true
  bindHost: 127.0.0.1
"""
    out = apply_text(site, "-n", "hub", "--platform", "linux")
    assert "Site hub created" in out
    assert "RouterAccess skupper-router updated" in out
    return "hub"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "apiVersion: skupper.io/v2alpha1\nkind: Widget\nmetadata: {name: w}\n",
            "stdin: document 1: kind: unknown kind 'Widget' (expected one of "
            f"{', '.join(APPLY_KINDS)})",
        ),
        (
            "---\napiVersion: skupper.io/v2alpha1\nkind: Connector\nmetadata: {name: c}\n"
            "spec: {routingKey: k, host: h, port: 80}\n---\napiVersion: skupper.io/v2alpha1\n"
            "kind: Listener\nmetadata: {name: db}\nspec: {port: 5432}\n",
            "stdin: document 2 (Listener db): line 10: spec.routingKey: Field required",
        ),
        (
            LISTENER.format(port=70000),
            "stdin: document 1 (Listener db): line 7: spec.port: Input should be less than or "
            "equal to 65535",
        ),
        (
            LISTENER.format(port=5432).replace("v2alpha1", "v1alpha1"),
            "stdin: document 1 (Listener db): apiVersion: 'skupper.io/v1alpha1' is not "
            "supported; use skupper.io/v2alpha1",
        ),
        (
            "kind: Site\nmetadata: {name: s}\n",
            "stdin: document 1 (Site s): apiVersion: missing; use skupper.io/v2alpha1",
        ),
        ("a: [1, 2\n", None),
    ],
    ids=["unknown-kind", "missing-routing-key", "port-range", "api-version", "no-version", "yaml"],
)
def test_bad_yaml_changes_nothing(
    hub: str, skupper_home: Path, text: str, expected: str | None
) -> None:
    before = snapshot(skupper_home)
    message = apply_fails(text, "-n", hub)
    if expected is None:
        assert message.startswith("stdin: not valid YAML: ")
    else:
        assert message == expected
    assert snapshot(skupper_home) == before


def test_bad_yaml_into_an_empty_namespace_creates_nothing(skupper_home: Path) -> None:
    good_site = "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: new}\n"
    message = apply_fails(good_site + "---\n" + LISTENER.format(port=0), "-n", "new")
    assert message == (
        "stdin: document 2 (Listener db): line 11: spec.port: "
        "Input should be greater than or equal to 1"
    )
    assert snapshot(skupper_home) == {}


def test_every_bad_document_is_named(skupper_home: Path) -> None:
    text = LISTENER.format(port=0) + "---\n" + "kind: Thing\n"
    message = apply_fails(text, "-n", "new")
    assert message == (
        "stdin: document 1 (Listener db): line 7: spec.port: Input should be greater than or equal "
        "to 1; stdin: document 2: kind: unknown kind 'Thing' (expected one of "
        f"{', '.join(APPLY_KINDS)})"
    )


def test_no_site_and_no_site_document(skupper_home: Path) -> None:
    message = apply_fails(LISTENER.format(port=5432), "-n", "empty")
    assert message == (
        "namespace empty has no site: add a Site document to the file "
        "or run 'skupper-podman site init' first"
    )
    assert snapshot(skupper_home) == {}


def test_site_cannot_be_renamed(hub: str, skupper_home: Path) -> None:
    before = snapshot(skupper_home)
    text = "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: other}\n"
    assert apply_fails(text, "-n", hub).startswith(
        "stdin: document 1 (Site other): metadata.name: this namespace's site is hub"
    )
    assert snapshot(skupper_home) == before


def test_link_needs_its_secret(hub: str) -> None:
    text = (
        "apiVersion: skupper.io/v2alpha1\nkind: Link\nmetadata: {name: l}\nspec:\n"
        "  endpoints: [{name: inter-router, host: 127.0.0.1, port: '1'}]\n"
        "  tlsCredentials: l\n"
    )
    assert apply_fails(text, "-n", hub) == (
        "stdin: document 1 (Link l): spec.tlsCredentials: no Secret named l in the file or "
        "the namespace"
    )


def test_listener_create_update_and_reload(hub: str) -> None:
    port = free_port()
    out = apply_text(LISTENER.format(port=port), "-n", hub)
    assert out.strip() == "Listener db created"
    assert apply_text(LISTENER.format(port=port), "-n", hub).strip() == "Listener db unchanged"
    new_port = free_port()
    assert apply_text(LISTENER.format(port=new_port), "-n", hub).strip() == "Listener db updated"
    # The running router took the change (SIGHUP): it reports the listener.
    (found,) = status_json("listener", "status", "db", "-n", hub)
    assert (found["port"], found["status"]) == (new_port, "down")
    generated = ok("listener", "generate", "db", str(new_port), "--routing-key", "db").stdout
    expected = yaml.safe_load(LISTENER.format(port=new_port))
    expected["spec"] |= {"host": "127.0.0.1", "type": "tcp"}
    assert yaml.safe_load(generated) == expected
    result = runner.invoke(app, ["delete", "-f", "-", "-n", hub], input=generated)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "Listener db deleted"
    assert status_json("listener", "list", "-n", hub) == []
    missing = runner.invoke(app, ["delete", "-f", "-", "-n", hub], input=generated)
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        f"error: stdin: document 1 (Listener db): not found in namespace {hub}"
    )


def test_round_trip(hub: str, skupper_home: Path, tmp_path: Path) -> None:
    """generate of a site with a link, a listener and a connector; delete it; apply the
    YAML into a fresh namespace: the same resources come back and the link comes up."""
    ok("site", "init", "spoke", "-n", "spoke", "--platform", "linux")
    link_file = tmp_path / "link.yaml"
    link_file.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", hub).stdout)
    ok("link", "create", str(link_file), "--name", "to-hub", "-n", "spoke")
    ok("listener", "create", "web", str(free_port()), "--routing-key", "web", "-n", "spoke")
    connector = ok("connector", "generate", "api", "8080", "--routing-key", "api", "--host", "h")
    apply_text(connector.stdout, "-n", "spoke")
    generated = ok("site", "generate", "-n", "spoke").stdout
    kinds = [d["kind"] for d in yaml.safe_load_all(generated)]
    assert kinds == ["Site", "Link", "Secret", "Listener", "Connector"]
    ok("site", "delete", "-n", "spoke")
    out = apply_text(generated, "-n", "again", "--platform", "linux")
    assert out.splitlines()[0] == "Site spoke created"
    assert ok("site", "generate", "-n", "again").stdout == generated
    # A fresh identity: the new site's CA is its own.
    assert (namespace_folder(skupper_home, "again") / "certs" / "skupper-site-ca").is_dir()
    deadline = time.monotonic() + 15
    while True:
        (link,) = status_json("link", "status", "-n", "again")
        if link["up"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert link["up"] is True, link
    # Applying the same file again changes nothing.
    again = apply_text(generated, "-n", "again")
    assert all(line.endswith(" unchanged") for line in again.splitlines()), again


def test_hub_round_trip_keeps_router_access(hub: str) -> None:
    generated = ok("site", "generate", "-n", hub).stdout
    documents = list(yaml.safe_load_all(generated))
    assert [d["kind"] for d in documents] == ["Site", "RouterAccess"]
    assert documents[1]["spec"]["bindHost"] == "127.0.0.1"
    unchanged = apply_text(generated, "-n", hub)
    assert unchanged.splitlines() == ["Site hub unchanged", "RouterAccess skupper-router unchanged"]


def test_delete_site_document_removes_the_site(hub: str, skupper_home: Path) -> None:
    generated = ok("site", "generate", "-n", hub).stdout
    other = "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: other}\n"
    wrong = runner.invoke(app, ["delete", "-f", "-", "-n", hub], input=other)
    assert wrong.exit_code == 1
    assert wrong.stderr.strip() == (
        "error: stdin: document 1 (Site other): the site of namespace hub is hub, not other"
    )
    result = runner.invoke(app, ["delete", "-f", "-", "-n", hub], input=generated)
    assert result.exit_code == 0, result.stderr
    assert not namespace_folder(skupper_home, hub).exists()
    assert fails("site", "generate", "-n", hub) == (
        f"no site in namespace {hub}: run 'skupper-podman site init' first"
    )
