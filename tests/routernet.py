"""Networks of real router processes on loopback, ours and the reference skupper-router.

``RouterNet`` writes certificates and skrouterd.json configs into a folder, starts the
routers, and stops them at the end. A router is ``kind="ours"`` (``skupper-router``, this
package) or ``kind="sk"`` (the reference skupper-router, ``tests/reference.py``): both
read the same config file, so one topology can be built with either in any position.
Links use mutual TLS and SASL EXTERNAL, as Skupper sites do.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from proton import Message, ProtonException
from proton.utils import BlockingConnection

from skupper_podman import certs
from tests import reference
from tests.ports import free_port
from tests.router.server_side import add_link_listeners

Kind = Literal["ours", "sk"]


def wait_for_port(port: int, *, timeout: float = 15.0, open_: bool = True) -> None:
    """Wait until 127.0.0.1:port accepts connections (or, with open_=False, refuses them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                if open_:
                    return
        except OSError:
            if not open_:
                return
        time.sleep(0.05)
    raise AssertionError(f"port {port} did not {'open' if open_ else 'close'} in {timeout}s")


def listening(port: int) -> bool:
    """Whether a socket listens on TCP ``port``, seen without connecting to it (a probe
    connection would be a flow through the network)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


def wait_listening(port: int, *, timeout: float = 20.0, open_: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port) == open_:
            return
        time.sleep(0.05)
    state = "listen" if open_ else "stop listening"
    raise AssertionError(f"nothing came to {state} on port {port} in {timeout}s")


@dataclass
class Router:
    name: str
    folder: Path
    entities: list[list[Any]]
    kind: Kind = "ours"
    process: subprocess.Popen[bytes] | None = None
    inter_router_port: int = 0
    edge_port: int = 0
    management_port: int = 0
    trace_frames: bool = False  # ours: proton writes every AMQP frame into the log
    max_files: int = 0  # the process's file descriptor limit (0: inherited)

    @property
    def mode(self) -> str:
        return str(self.entities[0][1]["mode"])

    @property
    def config_path(self) -> Path:
        return self.folder / "skrouterd.json"

    @property
    def log(self) -> str:
        path = self.folder / "router.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def write_config(self) -> None:
        self.config_path.write_text(json.dumps(self.entities, indent=1))

    def command(self) -> list[str]:
        if self.kind == "sk":
            binary = reference.skrouterd()
            assert binary is not None, reference.missing_reason()
            return [str(binary), "-c", str(self.config_path)]
        return [
            sys.executable,
            "-m",
            "skupper_podman.router.main",
            "--config",
            str(self.config_path),
        ]

    def start(self) -> None:
        self.write_config()
        log = open(self.folder / "router.log", "ab")  # noqa: SIM115 - owned by the process
        environment = dict(os.environ)
        if self.trace_frames:
            environment["PN_TRACE_FRM"] = "1"
        limit = self.max_files

        def set_limits() -> None:
            if limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self.process = subprocess.Popen(
            self.command(),
            env=environment,
            preexec_fn=set_limits,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.folder,  # skupper-router resolves relative file names from here
        )
        log.close()

    def add(self, kind: str, **attributes: Any) -> None:
        self.entities.append([kind, attributes])

    def remove(self, kind: str, name: str) -> None:
        self.entities = [
            e for e in self.entities if not (e[0] == kind and e[1].get("name") == name)
        ]

    def reload(self) -> None:
        """Write the config and tell the running router (SIGHUP)."""
        self.write_config()
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)

    def query(self, entity_type: str) -> list[dict[str, Any]]:
        """A management QUERY over the router's management listener (``management=True``)."""
        assert self.management_port, f"{self.name} has no management listener"
        connection = BlockingConnection(f"amqp://127.0.0.1:{self.management_port}", timeout=10)
        try:
            replies = connection.create_receiver(None, dynamic=True)
            sender = connection.create_sender("$management")
            request = Message(
                id=1,
                correlation_id=1,
                reply_to=replies.link.remote_source.address,
                properties={
                    "operation": "QUERY",
                    "type": "org.amqp.management",
                    "entityType": f"io.skupper.router.{entity_type}",
                },
                body={"attributeNames": []},
            )
            sender.send(request)
            body = replies.receive(timeout=10).body
            assert isinstance(body, dict), f"{self.name}: a management reply without a map"
        finally:
            connection.close()
        names = body["attributeNames"]
        return [dict(zip(names, row, strict=True)) for row in body["results"]]

    def query_or_none(self, entity_type: str) -> list[dict[str, Any]]:
        """As ``query``, but no rows while the router does not answer yet."""
        try:
            return self.query(entity_type)
        except (ProtonException, OSError):
            return []

    def address_keys(self) -> set[str]:
        """The keys of the addresses this router knows: ``R<router>`` for a router it has a
        route to, ``H<edge>`` for an edge router it can reach, ``M<address>`` mobile."""
        return {str(row["name"]) for row in self.query("router.address")}

    def next_hop(self, router_id: str) -> str | None:
        """The neighbour this router forwards to ``router_id`` through (None: no route)."""
        for row in self.query("router.node"):
            if row["id"] == router_id:
                return str(row.get("nextHop") or router_id)
        return None

    def rss_kib(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


@dataclass
class RouterNet:
    folder: Path
    ca: certs.Credential = field(init=False)
    routers: dict[str, Router] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ca = certs.new_ca("test-network-ca")

    def router(
        self,
        name: str,
        *,
        link_access: bool = False,
        mode: str = "interior",
        kind: Kind = "ours",
        management: bool = False,
    ) -> Router:
        """A router; ``management``: a plain AMQP listener (role normal, no TLS) on
        loopback, for skstat and management clients."""
        folder = self.folder / name
        folder.mkdir(parents=True)
        entities: list[list[Any]] = [["router", {"id": name, "mode": mode}]]
        router = Router(name, folder, entities, kind)
        if link_access:
            router.inter_router_port, router.edge_port = free_port(), free_port()
            ports = {"inter-router": router.inter_router_port, "edge": router.edge_port}
            add_link_listeners(router.add, folder, self.ca, name, "127.0.0.1", ports)
        if management:
            router.management_port = free_port()
            router.add(
                "listener",
                name="management",
                host="127.0.0.1",
                port=router.management_port,
                role="normal",
                saslMechanisms="ANONYMOUS",
                authenticatePeer=False,
            )
        self.routers[name] = router
        return router

    def link(self, source: Router, target: Router, *, cost: int = 1) -> None:
        """Give ``source`` a connector to ``target`` (its edge listener if source is an edge).

        Connector and sslProfile get different names: skupper-router wants every entity
        name unique across types."""
        client = certs.issue_client_cert(self.ca, f"{source.name}-to-{target.name}")
        folder = f"link-{target.name}"
        certs.write_credential(source.folder / folder, client.files())
        source.add(
            "sslProfile",
            name=f"{folder}-tls",
            caCertFile=f"{folder}/ca.crt",
            certFile=f"{folder}/tls.crt",
            privateKeyFile=f"{folder}/tls.key",
        )
        edge = source.mode == "edge"
        port = target.edge_port if edge else target.inter_router_port
        source.add(
            "connector",
            name=folder,
            host="127.0.0.1",
            port=port,
            role="edge" if edge else "inter-router",
            cost=cost,
            sslProfile=f"{folder}-tls",
            saslMechanisms="EXTERNAL",
        )

    def start(self) -> None:
        for router in self.routers.values():
            router.start()

    def wait_routes(self, *, timeout: float = 30.0) -> None:
        """Wait until every interior router with a management listener has a route to
        every other interior router and to every edge router: until then a router may
        announce an address it cannot forward to, or a reply cannot find its way back
        (skupper-router releases either)."""
        interiors = [r for r in self.routers.values() if r.mode == "interior"]
        edges = [r for r in self.routers.values() if r.mode == "edge"]
        deadline = time.monotonic() + timeout
        for router in interiors:
            if not router.management_port:
                continue
            wanted = {"R" + r.name for r in interiors if r is not router}
            wanted |= {"H" + r.name for r in edges}
            while True:
                known = {str(row["name"]) for row in router.query_or_none("router.address")}
                if not (missing := wanted - known):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{router.name} has no route to {sorted(missing)}")
                time.sleep(0.1)

    def stop(self) -> None:
        for router in self.routers.values():
            router.kill(signal.SIGTERM)

    def logs(self, tail: int = 4000) -> str:
        """The end of each router's log, without skupper-router's routing and flow-record
        lines (they fill a failed test's output and say nothing about its flows)."""
        return "\n".join(
            f"--- {router.name} ({router.kind}) log ---\n{_without_noise(router.log)[-tail:]}"
            for router in self.routers.values()
        )


_NOISE = ("ROUTER_LS (info)", "FLOW_LOG (info)", "ROUTER_CORE (info) Finalizing")


def _without_noise(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if not any(n in line for n in _NOISE))
