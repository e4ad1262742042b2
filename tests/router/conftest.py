"""Real routers for driver tests: router processes with real mutual TLS on loopback.

``RouterNet`` writes certificates and skrouterd.json configs into a temporary folder,
starts ``skupper-router`` processes, and stops them (and reports their logs) at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from skupper_podman import certs
from tests.ports import free_port
from tests.router.server_side import add_link_listeners


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


@dataclass
class Router:
    name: str
    folder: Path
    entities: list[list[Any]]
    process: subprocess.Popen[bytes] | None = None
    inter_router_port: int = 0
    edge_port: int = 0

    @property
    def mode(self) -> str:
        return str(self.entities[0][1]["mode"])

    @property
    def config_path(self) -> Path:
        return self.folder / "skrouterd.json"

    @property
    def log(self) -> str:
        path = self.folder / "router.log"
        return path.read_text() if path.exists() else ""

    def write_config(self) -> None:
        self.config_path.write_text(json.dumps(self.entities, indent=1))

    def start(self) -> None:
        self.write_config()
        log = open(self.folder / "router.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skupper_podman.router.main", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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

    def router(self, name: str, *, link_access: bool = False, mode: str = "interior") -> Router:
        folder = self.folder / name
        folder.mkdir(parents=True)
        entities: list[list[Any]] = [["router", {"id": name, "mode": mode}]]
        router = Router(name, folder, entities)
        if link_access:
            router.inter_router_port, router.edge_port = free_port(), free_port()
            ports = {"inter-router": router.inter_router_port, "edge": router.edge_port}
            add_link_listeners(router.add, folder, self.ca, name, "127.0.0.1", ports)
        self.routers[name] = router
        return router

    def link(self, source: Router, target: Router, *, cost: int = 1) -> None:
        """Give ``source`` a connector to ``target`` (its edge listener if source is an edge)."""
        client = certs.issue_client_cert(self.ca, f"{source.name}-to-{target.name}")
        folder = f"link-{target.name}"
        certs.write_credential(source.folder / folder, client.files())
        source.add(
            "sslProfile",
            name=folder,
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
            sslProfile=folder,
            saslMechanisms="EXTERNAL",
        )

    def start(self) -> None:
        for router in self.routers.values():
            router.start()

    def stop(self) -> None:
        for router in self.routers.values():
            router.kill(signal.SIGTERM)


@pytest.fixture
def net(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RouterNet]:
    network = RouterNet(tmp_path)
    yield network
    network.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for router in network.routers.values():
            print(f"--- {router.name} log ---\n{router.log[-4000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, "rep_" + report.when, report)


os.environ.setdefault("PYTHONUNBUFFERED", "1")
