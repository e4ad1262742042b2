"""The `Engine` on Docker's REST API, through docker-py.

What Docker shares with Podman lives in `compat.py`; this module holds what differs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import docker
from docker import errors as docker_errors

from skupper_podman.engines.base import ContainerSpec
from skupper_podman.engines.compat import CompatEngine


class DockerEngine(CompatEngine):
    name = "docker"
    api_errors = (docker_errors.APIError, docker_errors.DockerException)
    not_found = docker_errors.NotFound
    build_error = docker_errors.BuildError
    build_options: ClassVar[dict[str, object]] = {"pull": False}

    @classmethod
    def connect(cls, endpoint: str, timeout: float) -> DockerEngine:
        client = docker.DockerClient(base_url=endpoint, timeout=int(max(timeout, 1)))
        info = client.info()
        version = str(info.get("ServerVersion", "unknown"))
        options = info.get("SecurityOptions") or []
        rootless = any("rootless" in str(option) for option in options)
        return cls(endpoint, client, version, rootless)

    def has_image(self, reference: str) -> bool:
        try:
            self._client.images.get(reference)
        except self.api_errors:  # ImageNotFound among them
            return False
        return True

    def network_exists(self, name: str) -> bool:
        return bool(self._client.networks.list(names=[name]))

    def container_options(self, spec: ContainerSpec) -> dict[str, Any]:
        ports: dict[str, list[tuple[str, int]]] = {}
        for binding in spec.ports:
            ports.setdefault(f"{binding.container_port}/tcp", []).append(
                (binding.host_ip, binding.host_port)
            )
        endpoint = self._client.api.create_endpoint_config(aliases=list(spec.aliases) or None)
        options: dict[str, Any] = {
            "name": spec.name,
            "command": list(spec.command),
            "labels": spec.labels,
            "network": spec.network,
            "networking_config": {spec.network: endpoint},
            "ports": ports,
            "mounts": [
                docker.types.Mount(
                    target=m.target, source=str(m.source), type="bind", read_only=m.read_only
                )
                for m in spec.mounts
            ],
            "extra_hosts": spec.extra_hosts,
            "restart_policy": {"Name": spec.restart_policy},
            "detach": True,
        }
        if spec.user is not None:
            options["user"] = spec.user
        if not spec.health_check:
            options["healthcheck"] = {"test": ["NONE"]}
        return options

    def logs(self, name: str, lines: int) -> str:
        try:
            raw = self._client.containers.get(name).logs(stdout=True, stderr=True, tail=lines)
        except self.api_errors:
            return ""
        return bytes(raw).decode(errors="replace")

    def remove_network(self, name: str) -> None:
        self._client.networks.get(name).remove()

    def build_log_tail(self, error: Exception) -> str:
        lines = []
        for entry in getattr(error, "build_log", []) or []:
            text = (
                str(entry.get("stream") or entry.get("error") or "")
                if isinstance(entry, dict)
                else ""
            )
            lines += [line for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else str(getattr(error, "msg", error))
