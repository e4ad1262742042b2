"""The `podman` and `docker` platforms: the site's router as a container (one `Engine`,
skupper_podman/engines/, so both engines share this code).

What a site makes, all labelled with its site id (and found and removed by label only):
- network `skupper-<namespace>` (a bridge; containers on it reach each other by name);
- container `skupper-<namespace>-router`: the router image, the namespace folder mounted
  read-only at /site (grants/ and sockets/ read-write: the grant server records
  redemptions there; the router serves its metrics on sockets/metrics.sock),
  restart policy unless-stopped, the management port published on
  127.0.0.1 and the link access ports on the RouterAccess bind host;
- one container `skupper-<namespace>-listener-<name>` per listener: `skupper-forward`
  publishes the listener's port on the host at the listener's host and carries the
  routing key and listener name as aliases on the site network, and forwards to the
  router's tcpListener. A new host port needs a new container, but not a new router:
  listeners come and go without touching the router or its flows.

`runtime/container.json` records the engine endpoint, image and site id at start.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from skupper_podman import engines, image
from skupper_podman.engines.base import (
    LABEL_COMPONENT,
    LABEL_LISTENER,
    LABEL_NAMESPACE,
    LABEL_PREFIX,
    LABEL_SITE,
    LABEL_SITE_ID,
    BindMount,
    ContainerSpec,
    ContainerState,
    Engine,
    PortBinding,
)
from skupper_podman.errors import SkupperError
from skupper_podman.paths import NamespacePaths
from skupper_podman.platforms.base import (
    Exposure,
    HostPort,
    RouterState,
    RouterStatus,
    last_log_line,
)

SITE_MOUNT = "/site"
GRANTS_MOUNT = f"{SITE_MOUNT}/grants"
SOCKETS_MOUNT = f"{SITE_MOUNT}/sockets"
STOP_TIMEOUT_SECONDS = 5
LABEL_PUBLISHED = f"{LABEL_PREFIX}.published"
ROUTER_ALIAS = "skupper-router"
# Docker has no host.containers.internal of its own: the host gateway plays its part.
DOCKER_HOSTS = {"host.containers.internal": "host-gateway", "host.docker.internal": "host-gateway"}
FACTS_FILE = "container.json"


@dataclass(frozen=True)
class ContainerFacts:
    """runtime/container.json: which engine and image run this site, and its label."""

    engine: str
    endpoint: str
    image: str
    site_id: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "engine": self.engine,
                "endpoint": self.endpoint,
                "image": self.image,
                "siteId": self.site_id,
            }
        )

    @classmethod
    def read(cls, site: NamespacePaths) -> ContainerFacts | None:
        try:
            data = json.loads((site.runtime / FACTS_FILE).read_text())
            return cls(data["engine"], data["endpoint"], data["image"], data["siteId"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def network_name(site: NamespacePaths) -> str:
    return f"skupper-{site.name}"


def router_name(site: NamespacePaths) -> str:
    return f"skupper-{site.name}-router"


def listener_container_name(site: NamespacePaths, listener: str) -> str:
    return f"skupper-{site.name}-listener-{listener}"


class ContainerPlatform:
    def __init__(self, name: str, *, endpoint: str | None = None, image: str | None = None):
        self.name = name
        self._endpoint = endpoint
        self._image = image

    # --- the Platform protocol ---------------------------------------------------------

    def start(self, site: NamespacePaths, exposure: Exposure) -> None:
        engine = engines.connect(self.name, self._endpoint)
        try:
            unusable = engine.unusable_reason()
            if unusable is not None:
                raise SkupperError(unusable)
            facts = ContainerFacts.read(site)
            if facts is None:
                facts = ContainerFacts(
                    engine=self.name,
                    endpoint=engine.endpoint,
                    image=image.ensure(engine, self._image),
                    site_id=uuid.uuid4().hex,
                )
                site.runtime.mkdir(parents=True, exist_ok=True)
                # Written before anything is made, so a failed start can be undone by label.
                (site.runtime / FACTS_FILE).write_text(facts.to_json() + "\n")
            labels = container_labels(site, exposure, facts, "network")
            if not engine.network_exists(network_name(site)):
                engine.create_network(network_name(site), labels)
            elif not engine.find({**labels, LABEL_COMPONENT: "network"}).networks:
                raise SkupperError(
                    f"network {network_name(site)} exists in {self.name} and is not this "
                    "site's: remove it or use another namespace"
                )
            site.grants.mkdir(parents=True, exist_ok=True)
            site.sockets.mkdir(mode=0o700, parents=True, exist_ok=True)
            _share_files(site, engine)
            engine.run_container(
                router_spec(site, exposure, facts, engine=self.name, rootless=engine.rootless)
            )
            self._sync_listeners(engine, site, exposure, facts)
        finally:
            engine.close()

    def stop(self, site: NamespacePaths) -> None:
        facts = ContainerFacts.read(site)
        if facts is None:
            return  # nothing was made
        engine = engines.connect(facts.engine, facts.endpoint)
        try:
            engine.remove_labelled({LABEL_SITE_ID: facts.site_id}, STOP_TIMEOUT_SECONDS)
        finally:
            engine.close()

    def reload(self, site: NamespacePaths, exposure: Exposure) -> None:
        facts = self._facts(site)
        engine = engines.connect(facts.engine, facts.endpoint)
        try:
            _share_files(site, engine)
            engine.signal(router_name(site), "SIGHUP")
            self._sync_listeners(engine, site, exposure, facts)
        finally:
            engine.close()

    def share_files(self, site: NamespacePaths) -> None:
        facts = self._facts(site)
        try:
            engine = engines.connect(facts.engine, facts.endpoint)
        except SkupperError:
            return  # no engine, no router running: start shares the files
        try:
            _share_files(site, engine)
        finally:
            engine.close()

    def status(self, site: NamespacePaths) -> RouterStatus:
        facts = self._facts(site)
        engine = engines.connect(facts.engine, facts.endpoint)
        try:
            found = engine.container(router_name(site))
        finally:
            engine.close()
        if found is None:
            return RouterStatus(RouterState.STOPPED, detail=f"no container {router_name(site)}")
        health = f", {found.health}" if found.health else ""
        detail = f"{self.name} container {found.name} {found.state.value}{health}"
        running = found.state is ContainerState.RUNNING
        return RouterStatus(RouterState.RUNNING if running else RouterState.STOPPED, detail=detail)

    def listener_problems(self, site: NamespacePaths) -> tuple[str, ...]:
        """Each listener container connects once to the router from inside (the path its
        clients take: name resolution and the site network) and says if it could not."""
        facts = self._facts(site)
        engine = engines.connect(facts.engine, facts.endpoint)
        try:
            selector = {LABEL_SITE_ID: facts.site_id, LABEL_COMPONENT: "listener"}
            return tuple(
                problem
                for name in engine.find(selector).containers
                if (problem := _listener_problem(engine, name))
            )
        finally:
            engine.close()

    def log_tail(self, site: NamespacePaths) -> str:
        return last_log_line(self.router_log(site, 5), missing="no container")

    def router_log(self, site: NamespacePaths, lines: int) -> str | None:
        facts = ContainerFacts.read(site)
        if facts is None:
            return None
        engine = engines.connect(facts.engine, facts.endpoint)
        try:
            return engine.logs(router_name(site), lines)
        finally:
            engine.close()

    def runtime_versions(self, site: NamespacePaths) -> dict[str, str]:
        facts = ContainerFacts.read(site)
        if facts is None:
            return {}
        engine = engines.connect(facts.engine, facts.endpoint)
        try:
            return {"engine": f"{facts.engine} {engine.version()}", "routerImage": facts.image}
        finally:
            engine.close()

    # --- helpers -----------------------------------------------------------------------

    def _facts(self, site: NamespacePaths) -> ContainerFacts:
        facts = ContainerFacts.read(site)
        if facts is None:
            raise SkupperError(
                f"namespace {site.name} has no usable {site.runtime / FACTS_FILE}: "
                "run 'skupper-podman site delete' and 'site init' again"
            )
        return facts

    def _sync_listeners(
        self, engine: Engine, site: NamespacePaths, exposure: Exposure, facts: ContainerFacts
    ) -> None:
        """One forwarding container per listener: remove the stale, start the missing."""
        selector = {LABEL_SITE_ID: facts.site_id, LABEL_COMPONENT: "listener"}
        wanted = {listener_container_name(site, p.name): p for p in exposure.listeners}
        for name in engine.find(selector).containers:
            current = engine.container(name)
            listener = wanted.get(name)
            published = current.labels.get(LABEL_PUBLISHED) if current else None
            if listener is None or published != published_label(listener):
                engine.remove_container(name, 1)
        existing = set(engine.find(selector).containers)
        for name, listener in wanted.items():
            if name not in existing:
                engine.run_container(listener_spec(site, exposure, facts, listener))


def _listener_problem(engine: Engine, name: str) -> str:
    found = engine.container(name)
    if found is None:
        return ""  # removed meanwhile
    listener = found.labels.get(LABEL_LISTENER, name)
    if found.state is not ContainerState.RUNNING:
        return f"listener {listener}: its container {name} is {found.state.value}"
    code, said = engine.run_in(name, ("skupper-forward", "--check", *found.command[1:]))
    return "" if code == 0 else f"listener {listener}: its container {said or f'exit {code}'}"


# --- the containers, as descriptions -----------------------------------------------------
# The platform runs these and units/render.py writes them as quadlet units: one builder
# for each, so the two cannot drift.


def router_spec(
    site: NamespacePaths, exposure: Exposure, facts: ContainerFacts, *, engine: str, rootless: bool
) -> ContainerSpec:
    """The router container of `site` on `engine` ("podman" or "docker")."""
    ports = [PortBinding("127.0.0.1", exposure.management_port, exposure.management_port)]
    ports += [PortBinding(publish_host(p.host), p.port, p.port) for p in exposure.link_ports]
    user, keep_id = container_user(engine, rootless)
    return ContainerSpec(
        name=router_name(site),
        image=facts.image,
        command=(),
        labels=container_labels(site, exposure, facts, "router"),
        network=network_name(site),
        aliases=(ROUTER_ALIAS,),
        ports=tuple(ports),
        mounts=(
            BindMount(site.root.resolve(), SITE_MOUNT, read_only=True),
            # Writable: the grant server records redemptions; the metrics socket.
            BindMount(site.grants.resolve(), GRANTS_MOUNT, read_only=False),
            BindMount(site.sockets.resolve(), SOCKETS_MOUNT, read_only=False),
        ),
        extra_hosts=DOCKER_HOSTS if engine == "docker" else {},
        user=user,
        keep_user_id=keep_id,
    )


def listener_spec(
    site: NamespacePaths, exposure: Exposure, facts: ContainerFacts, listener: HostPort
) -> ContainerSpec:
    """The forwarder container of one listener: its host port to the router's."""
    labels = container_labels(site, exposure, facts, "listener")
    labels[LABEL_LISTENER] = listener.name
    labels[LABEL_PUBLISHED] = published_label(listener)
    port = listener.port
    return ContainerSpec(
        name=listener_container_name(site, listener.name),
        image=facts.image,
        command=("skupper-forward", str(port), router_name(site), str(port)),
        labels=labels,
        network=network_name(site),
        aliases=listener.aliases,
        ports=(PortBinding(publish_host(listener.host), port, port),),
        health_check=False,
    )


def container_labels(
    site: NamespacePaths, exposure: Exposure, facts: ContainerFacts, component: str
) -> dict[str, str]:
    """The labels of what the site makes; `component` says which part it is."""
    return {
        LABEL_SITE_ID: facts.site_id,
        LABEL_SITE: exposure.site_name,
        LABEL_NAMESPACE: site.name,
        LABEL_COMPONENT: component,
    }


def published_label(listener: HostPort) -> str:
    """What a listener container publishes (host:port:aliases), to notice a change."""
    return f"{listener.host}:{listener.port}:{','.join(listener.aliases)}"


def publish_host(host: str) -> str:
    """The host address to publish on: every address for "" and "::"."""
    return "0.0.0.0" if host in ("", "::") else host


def container_user(engine: str, rootless: bool) -> tuple[str | None, bool]:
    """Who the router runs as (user, keep-id), so that it can read the mounted files but
    is not root.

    Rootless Podman maps this user into the container (keep-id). A rootful engine run by
    an ordinary user runs the router as that user. When root runs it, the image's own
    user (uid 10001, group 0) runs it and reads the files through group 0 (_share_files).
    """
    uid, gid = os.getuid(), os.getgid()
    if rootless and engine == "podman":
        return f"{uid}:{gid}", True
    if uid != 0:
        return f"{uid}:{gid}", False
    return None, False


def _share_files(site: NamespacePaths, engine: Engine) -> None:
    """Make the namespace readable to group 0 when root runs a rootful engine (the image's
    user is in group 0; keys stay unreadable to every other user of the host)."""
    user, _keep_id = container_user(engine.name, engine.rootless)
    if user is not None:
        return
    writable = {site.grants.resolve(), site.sockets.resolve()}
    for folder, _dirs, files in os.walk(site.root):
        write = Path(folder).resolve() in writable
        _add_group_access(Path(folder), directory=True, write=write)
        for file in files:
            _add_group_access(Path(folder) / file, directory=False, write=write)


def _add_group_access(path: Path, *, directory: bool, write: bool) -> None:
    with contextlib.suppress(OSError):
        mode = path.stat().st_mode & 0o7777
        wanted = mode | 0o040 | (0o010 if directory else 0) | (0o020 if write else 0)
        if wanted != mode:
            os.chmod(path, wanted)
