"""A namespace's files: the resources (the source of truth), runtime facts and the
generated router config. Files are replaced atomically so the router never reads half a
file when it reloads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from skupper_podman import __version__
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.files import write_atomically
from skupper_podman.paths import NamespacePaths, home, namespace_paths

# The layout of a namespace's files. 1: before versions were recorded (platform.json has
# no schemaVersion). A release migrates older sites (site/migration.py) and refuses newer.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class RuntimeFacts:
    """What is not a resource but the site needs to run: runtime/platform.json, which
    also records the schema of the namespace's files and the release that wrote them."""

    platform: str
    management_port: int
    grant_server_port: int | None = None  # sites with link access redeem tokens there
    metrics_port: int | None = None  # Prometheus text on 127.0.0.1 (linux platform)
    schema_version: int = SCHEMA_VERSION
    written_by: str = __version__

    def to_json(self) -> str:
        data: dict[str, object] = {
            "schemaVersion": self.schema_version,
            "writtenBy": self.written_by,
            "platform": self.platform,
            "managementPort": self.management_port,
        }
        if self.grant_server_port is not None:
            data["grantServerPort"] = self.grant_server_port
        if self.metrics_port is not None:
            data["metricsPort"] = self.metrics_port
        return json.dumps(data)


class SiteStore:
    """Read and write one namespace's resources and runtime files."""

    def __init__(self, paths: NamespacePaths) -> None:
        self.paths = paths

    @property
    def namespace(self) -> str:
        return self.paths.name

    def has_site(self) -> bool:
        return any(self.paths.resources.glob("Site-*.yaml"))

    def load(self) -> res.SiteResources:
        items: list[res.Resource] = []
        for path in sorted(self.paths.resources.glob("*.yaml")):
            items += res.load_yaml(path.read_text(), str(path))
        return res.SiteResources.from_resources(items, f"namespace {self.namespace}")

    def read(self, kind: str, name: str) -> res.Resource | None:
        """The stored resource of that kind and name, if there is one."""
        if not res.is_resource_name(name):
            return None
        path = self.paths.resource_file(kind, name)
        return res.load_yaml(path.read_text(), str(path))[0] if path.is_file() else None

    def has(self, kind: str, name: str) -> bool:
        """Whether the site has it (a name no resource can have: no)."""
        return res.is_resource_name(name) and self.paths.resource_file(kind, name).exists()

    def write(self, resource: res.Resource) -> None:
        # Secrets hold private keys, grants their codes: readable by the owner only.
        mode = 0o600 if isinstance(resource, res.Secret | res.AccessGrant) else 0o644
        path = self.paths.resource_file(resource.kind, resource.name)
        # resources/ holds Secrets and grants: the owner's only
        write_atomically(path, res.dump_yaml([resource]), mode, folder_mode=0o700)

    def remove(self, kind: str, name: str) -> None:
        if res.is_resource_name(name):
            self.paths.resource_file(kind, name).unlink(missing_ok=True)

    def facts(self) -> RuntimeFacts:
        try:
            data = json.loads(self.paths.platform_file.read_text())
            grant_port = data.get("grantServerPort")
            metrics_port = data.get("metricsPort")
            facts = RuntimeFacts(
                platform=data["platform"],
                management_port=data["managementPort"],
                grant_server_port=int(grant_port) if grant_port is not None else None,
                metrics_port=int(metrics_port) if metrics_port is not None else None,
                schema_version=int(data.get("schemaVersion", 1)),
                written_by=str(data.get("writtenBy", "an earlier release")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            raise SkupperError(
                f"namespace {self.namespace} has no usable {self.paths.platform_file}: "
                "run 'skupper-podman site delete' and 'site init' again"
            ) from None
        if facts.schema_version > SCHEMA_VERSION:
            raise SkupperError(
                f"namespace {self.namespace} was written by skupper-podman "
                f"{facts.written_by} (schema {facts.schema_version}); this is {__version__}, "
                f"which knows schema {SCHEMA_VERSION} at most: use that release or a newer one"
            )
        return facts

    def write_facts(self, facts: RuntimeFacts) -> None:
        write_atomically(self.paths.platform_file, facts.to_json() + "\n")

    def credential_folder(self, name: str) -> Path:
        return self.paths.certs / name


def existing_store(namespace: str) -> SiteStore:
    """The store of an existing site, as it is on disk (commands open it with
    site/migration.py's open_site); a clear error if the namespace has none."""
    store = SiteStore(namespace_paths(namespace))
    if not store.has_site():
        raise SkupperError(
            f"no site in namespace {namespace}: run 'skupper-podman site init' first"
        )
    return store


def all_stores() -> list[SiteStore]:
    """Every namespace that holds a site (to find ports other sites already claim)."""

    root = home() / "namespaces"
    if not root.is_dir():
        return []
    stores = [SiteStore(NamespacePaths(folder)) for folder in sorted(root.iterdir())]
    return [store for store in stores if store.has_site()]
