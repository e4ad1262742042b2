"""skupper-router's own management tools against our router, and our `network status`
in a network that holds skupper-router sites.

skstat and skmanage talk AMQP management to a router's normal listener. The same views
are asked of a skupper-router in the same position: the answers must have the same shape
(titles, columns) and say the same things about the network (routers, links, addresses).
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import reference
from tests.cli_helpers import init_linkable_site, ok, status_json
from tests.ports import free_port
from tests.router.peers import Backend, EchoHandler, echo_once
from tests.routernet import Router, RouterNet, wait_listening

from .chains import KEY, build


def skstat(router: Router, *options: str) -> str:
    result = subprocess.run(
        [*reference.tool("skstat"), "-b", f"127.0.0.1:{router.management_port}", *options],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"skstat {' '.join(options)}: {result.stdout}{result.stderr}"
    return result.stdout


def skmanage_query(router: Router, entity_type: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            *reference.tool("skmanage"),
            "-b",
            f"127.0.0.1:{router.management_port}",
            "query",
            "--type",
            entity_type,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def table(output: str) -> tuple[str, list[str], list[list[str]]]:
    """A skstat table: (title, column names, rows), the date and router id lines dropped."""
    lines = [line for line in output.splitlines() if line.strip()]
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"="})
    title = lines[2].strip()  # after the date and the router id
    header = lines[rule - 1]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    # headers may hold one space ("conn id", "last dlv"): cut the rows where they start
    names = [header[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    rows = [
        [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        for line in lines[rule + 1 :]
    ]
    return title, names, rows


@pytest.fixture
def pair(net: RouterNet) -> tuple[Router, Router]:
    """An ours - skupper-router pair (either way the flow goes), a flow already carried."""
    backend = Backend(EchoHandler)
    chain = build(net, "ours-sk", backend)
    assert echo_once(chain.port, b"hello") == b"hello"
    ours, sk = chain.routers
    return ours, sk


def test_skstat_views_of_our_router_look_like_skupper_routers(pair: tuple[Router, Router]) -> None:
    ours, sk = pair
    for option in ("-g", "-c", "-l", "-n", "-a"):
        mine, theirs = table(skstat(ours, option)), table(skstat(sk, option))
        assert mine[0] == theirs[0], option  # the same title
        assert mine[1] == theirs[1], option  # the same columns


def test_skstat_says_the_same_things_of_the_network(pair: tuple[Router, Router]) -> None:
    ours, sk = pair
    for router, peer in ((ours, sk), (sk, ours)):
        _, names, rows = table(skstat(router, "-n"))
        nodes = {row[names.index("router-id")]: row for row in rows}
        assert set(nodes) == {router.name, peer.name}
        assert nodes[router.name][names.index("next-hop")] == "(self)"
        assert nodes[peer.name][names.index("link")] != "-"  # a neighbour, on a link
        _, names, rows = table(skstat(router, "-c"))
        links = [r for r in rows if r[names.index("role")] == "inter-router"]
        assert [r[names.index("container")] for r in links] == [peer.name]
        assert links[0][names.index("security")].startswith("TLSv1.3")
        assert "x.509" in links[0][names.index("authentication")]  # SASL EXTERNAL
        _, names, rows = table(skstat(router, "-a"))
        addresses = {(r[names.index("class")], r[names.index("addr")]) for r in rows}
        assert {("mobile", KEY), ("router", peer.name), ("local", "qdhello")} <= addresses
        _, names, rows = table(skstat(router, "-l"))
        types = {r[names.index("type")] for r in rows}
        assert {"router-control", "inter-router", "endpoint"} <= types
        general = skstat(router, "-g")
        assert f"Router Id                        {router.name}" in general
        assert "Mode                             interior" in general


def test_skmanage_queries_of_tcp_entities_match(pair: tuple[Router, Router]) -> None:
    ours, sk = pair
    before = skmanage_query(ours, "tcpListener"), skmanage_query(sk, "tcpConnector")
    port = int(before[0][0]["port"])
    assert echo_once(port, b"one more") == b"one more"
    mine, theirs = skmanage_query(ours, "tcpListener"), skmanage_query(sk, "tcpConnector")
    assert len(mine) == len(theirs) == 1
    assert mine[0]["address"] == theirs[0]["address"] == KEY
    # skupper-router counts one more opened connection than flows on a tcpConnector:
    # compare what one flow adds
    opened = [rows[0]["connectionsOpened"] for rows in (*before, mine, theirs)]
    assert opened[2] - opened[0] == opened[3] - opened[1] == 1
    assert mine[0]["operStatus"] == "up"
    # every attribute a skupper-router tcpListener reports, ours reports too
    sk_listener_attributes = {
        "address",
        "authenticatePeer",
        "backlog",
        "bytesIn",
        "bytesOut",
        "connectionMsg",
        "connectionsClosed",
        "connectionsOpened",
        "host",
        "identity",
        "multiAddressStrategy",
        "name",
        "observer",
        "operStatus",
        "port",
        "type",
    }
    assert sk_listener_attributes <= set(mine[0])


def test_skstat_reaches_the_other_router_through_ours(pair: tuple[Router, Router]) -> None:
    """A management request routed across the network (``_topo/0/<id>/$management``)."""
    ours, sk = pair
    _, names, rows = table(skstat(ours, "-r", sk.name, "-n"))
    assert {row[names.index("router-id")] for row in rows} == {ours.name, sk.name}
    _, names, rows = table(skstat(sk, "-r", ours.name, "-c"))
    assert sk.name in {row[names.index("container")] for row in rows}


def _link_secret(link_yaml: str, folder: Path) -> None:
    """Write the CA, certificate and key of a link file's Secret into ``folder``."""
    secret = next(d for d in yaml.safe_load_all(link_yaml) if d and d.get("kind") == "Secret")
    folder.mkdir(parents=True)
    for name, value in secret["data"].items():
        (folder / name).write_bytes(base64.b64decode(value))


def test_network_status_shows_skupper_router_sites(net: RouterNet, tmp_path: Path) -> None:
    """A site of ours with link access; two skupper-routers link to it with the link
    file it generates (one interior, one edge); network status shows them all."""
    init_linkable_site("west")
    link = ok("link", "generate", "-n", "west", "--host", "127.0.0.1").stdout
    endpoint = next(d for d in yaml.safe_load_all(link) if d and d.get("kind") == "Link")
    ports = {e["name"]: int(e["port"]) for e in endpoint["spec"]["endpoints"]}
    backend = Backend(EchoHandler)
    for name, mode, role in (
        ("sk-interior", "interior", "inter-router"),
        ("sk-edge", "edge", "edge"),
    ):
        router = net.router(name, kind="sk", mode=mode)
        _link_secret(link, router.folder / "link")
        router.add(
            "sslProfile",
            name="link-tls",
            caCertFile="link/ca.crt",
            certFile="link/tls.crt",
            privateKeyFile="link/tls.key",
        )
        router.add(
            "connector",
            name="link-west",
            host="127.0.0.1",
            port=ports[role],
            role=role,
            sslProfile="link-tls",
            saslMechanisms="EXTERNAL",
            verifyHostname=False,
        )
        router.add("tcpConnector", name="db", host="127.0.0.1", port=backend.port, address="db")
    net.start()
    port = free_port()
    ok("listener", "create", "db", str(port), "--routing-key", "db", "-n", "west")
    wait_listening(port, timeout=30)
    assert echo_once(port, b"through skupper-router") == b"through skupper-router"
    deadline = time.monotonic() + 20
    while True:  # the interior joins the routing protocol a moment after the edge
        network = status_json("network", "status", "-n", "west")
        routers = {r["id"]: r for r in network["routers"]}
        if all(r["reachable"] for r in routers.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(routers) == {"west", "sk-interior", "sk-edge"}
    assert routers["west"]["product"] == "skupper-podman"
    assert routers["sk-interior"]["product"] == "skupper-router"
    assert routers["sk-interior"]["version"] == reference.version()
    assert routers["sk-edge"]["mode"] == "edge"
    links = {(link["source"], link["target"], link["role"]) for link in network["links"]}
    assert links == {("sk-interior", "west", "inter-router"), ("sk-edge", "west", "edge")}
    [key] = network["routingKeys"]
    assert key["key"] == "db" and key["listeners"] == ["west"]
    assert sorted(key["connectors"]) == ["sk-edge", "sk-interior"]
    backend.close()
