"""The `Engine` on Podman's REST API (libpod endpoints), through podman-py."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import podman
from podman import errors as podman_errors

from skupper_podman.engines.base import (
    ContainerInfo,
    ContainerSpec,
    ContainerState,
    Labelled,
    carries,
    first_label_filter,
)
from skupper_podman.errors import SkupperError

# podman's default OCI format drops HEALTHCHECK; the Docker format keeps it.
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_API_ERRORS = (podman_errors.APIError, podman_errors.PodmanError)


class PodmanEngine:
    name = "podman"

    def __init__(self, endpoint: str, client: podman.PodmanClient, info: dict[str, Any]) -> None:
        self.endpoint = endpoint
        self._client = client
        self._version = str(info.get("version", {}).get("Version", "unknown"))
        self.rootless = bool(info.get("host", {}).get("security", {}).get("rootless", False))

    @classmethod
    def connect(cls, endpoint: str, timeout: float) -> PodmanEngine:
        client = podman.PodmanClient(base_url=endpoint, timeout=timeout)
        info = client.info()  # type: ignore[no-untyped-call]
        return cls(endpoint, client, info)

    def version(self) -> str:
        return self._version

    def has_image(self, reference: str) -> bool:
        try:
            return bool(self._client.images.exists(reference))
        except _API_ERRORS:
            return False

    def build_image(
        self, context: Path, containerfile: str, tag: str, build_args: dict[str, str]
    ) -> None:
        try:
            self._client.images.build(
                path=str(context),
                dockerfile=containerfile,
                tag=tag,
                buildargs=build_args,
                outputformat=DOCKER_MANIFEST,
                rm=True,
                timeout=1800,
            )
        except podman_errors.BuildError as error:
            raise SkupperError(f"image build failed: {_build_log_tail(error)}") from None
        except _API_ERRORS as error:
            raise SkupperError(f"image build failed: {_explain(error)}") from None

    def create_network(self, name: str, labels: dict[str, str]) -> None:
        try:
            self._client.networks.create(name, driver="bridge", dns_enabled=True, labels=labels)
        except _API_ERRORS as error:
            raise SkupperError(f"cannot create network {name}: {_explain(error)}") from None

    def network_exists(self, name: str) -> bool:
        return bool(self._client.networks.exists(name))

    def run_container(self, spec: ContainerSpec) -> None:
        options: dict[str, Any] = {
            "name": spec.name,
            "command": list(spec.command),
            "labels": spec.labels,
            # Rootless Podman defaults to slirp4netns: say "bridge" to join the network.
            "network_mode": "bridge",
            "networks": {spec.network: {"aliases": list(spec.aliases)}},
            "ports": _ports(spec),
            "mounts": [
                {
                    "type": "bind",
                    "source": str(m.source),
                    "target": m.target,
                    "read_only": m.read_only,
                }
                for m in spec.mounts
            ],
            "extra_hosts": spec.extra_hosts,
            "restart_policy": {"Name": spec.restart_policy},
        }
        if spec.user is not None:
            options["user"] = spec.user
        if spec.keep_user_id:
            options["userns_mode"] = "keep-id"
        if not spec.health_check:
            options["healthcheck"] = {"Test": ["NONE"]}
        try:
            container = self._client.containers.create(spec.image, **options)
        except _API_ERRORS as error:
            raise SkupperError(f"cannot create container {spec.name}: {_explain(error)}") from None
        try:
            container.start()
        except _API_ERRORS as error:
            self.remove_container(spec.name, 0)
            raise SkupperError(f"cannot start container {spec.name}: {_explain(error)}") from None

    def container(self, name: str) -> ContainerInfo | None:
        try:
            container = self._client.containers.get(name)
        except podman_errors.NotFound:
            return None
        state: dict[str, Any] = container.attrs.get("State", {})
        health = state.get("Health") or state.get("Healthcheck") or {}
        return ContainerInfo(
            name=name,
            state=ContainerState.parse(str(state.get("Status", "unknown"))),
            health=(str(health["Status"]) or None) if health.get("Status") else None,
            labels=dict(container.labels or {}),
        )

    def signal(self, name: str, signal: str) -> None:
        try:
            self._client.containers.get(name).kill(signal=signal)
        except _API_ERRORS as error:
            raise SkupperError(f"cannot signal container {name}: {_explain(error)}") from None

    def logs(self, name: str, lines: int) -> str:
        try:
            chunks = self._client.containers.get(name).logs(
                stdout=True, stderr=True, tail=lines, stream=False
            )
        except _API_ERRORS:
            return ""
        if isinstance(chunks, bytes):
            return chunks.decode(errors="replace")
        return b"".join(chunks).decode(errors="replace")

    def remove_container(self, name: str, stop_timeout: int) -> None:
        with contextlib.suppress(podman_errors.NotFound):
            container = self._client.containers.get(name)
            with contextlib.suppress(*_API_ERRORS):
                container.stop(timeout=stop_timeout)
            container.remove(force=True)

    def find(self, labels: dict[str, str]) -> Labelled:
        selector = {"label": first_label_filter(labels)}
        containers = self._client.containers.list(all=True, filters=selector)
        networks = self._client.networks.list(filters=selector)
        volumes = self._client.volumes.list(filters=selector)
        return Labelled(
            containers=tuple(c.name for c in containers if carries(c.labels, labels)),
            networks=tuple(
                n.name for n in networks if carries(n.attrs.get("labels") or {}, labels)
            ),
            volumes=tuple(v.name for v in volumes if carries(v.attrs.get("Labels") or {}, labels)),
        )

    def remove_labelled(self, labels: dict[str, str], stop_timeout: int) -> Labelled:
        found = self.find(labels)
        try:
            for name in found.containers:
                self.remove_container(name, stop_timeout)
            for name in found.networks:
                self._client.networks.get(name).remove(force=True)
            for name in found.volumes:
                self._client.volumes.get(name).remove(force=True)
        except _API_ERRORS as error:
            raise SkupperError(f"cannot remove the site's containers: {_explain(error)}") from None
        return found

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def _ports(spec: ContainerSpec) -> dict[str, list[tuple[str, int] | int]]:
    ports: dict[str, list[tuple[str, int] | int]] = {}
    for binding in spec.ports:
        # netavark takes a host address of 0.0.0.0 literally (a DNAT rule for -d 0.0.0.0
        # that nothing matches); "every address" is no address.
        every = binding.host_ip in ("", "0.0.0.0")
        published = binding.host_port if every else (binding.host_ip, binding.host_port)
        ports.setdefault(f"{binding.container_port}/tcp", []).append(published)
    return ports


def _explain(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    text = str(explanation or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _build_log_tail(error: podman_errors.BuildError) -> str:
    lines = []
    for entry in getattr(error, "build_log", []) or []:
        text = entry.decode(errors="replace") if isinstance(entry, bytes) else str(entry)
        lines += [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else str(error)
