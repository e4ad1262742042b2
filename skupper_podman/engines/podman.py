"""The `Engine` on Podman's REST API (libpod endpoints), through podman-py.

What Podman shares with Docker lives in `compat.py`; this module holds what differs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import podman
from podman import errors as podman_errors

from skupper_podman.engines import diagnosis
from skupper_podman.engines.base import ContainerSpec
from skupper_podman.engines.compat import CompatEngine

# podman's default OCI format drops HEALTHCHECK; the Docker format keeps it.
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


class PodmanEngine(CompatEngine):
    name = "podman"
    api_errors = (podman_errors.APIError, podman_errors.PodmanError)
    not_found = podman_errors.NotFound
    build_error = podman_errors.BuildError
    build_options: ClassVar[dict[str, object]] = {"outputformat": DOCKER_MANIFEST}
    network_options: ClassVar[dict[str, object]] = {"dns_enabled": True}
    network_labels_key = "labels"
    network_backend = ""  # netavark or cni, as podman info says

    @classmethod
    def connect(cls, endpoint: str, timeout: float) -> PodmanEngine:
        client = podman.PodmanClient(base_url=endpoint, timeout=timeout)
        info = client.info()  # type: ignore[no-untyped-call]
        version = str(info.get("version", {}).get("Version", "unknown"))
        host = info.get("host", {})
        rootless = bool(host.get("security", {}).get("rootless", False))
        engine = cls(endpoint, client, version, rootless)
        engine.network_backend = str(host.get("networkBackend", ""))
        return engine

    def unusable_reason(self) -> str | None:
        return diagnosis.refuse_network_backend(self.network_backend)

    def has_image(self, reference: str) -> bool:
        try:
            return bool(self._client.images.exists(reference))
        except self.api_errors:
            return False

    def network_exists(self, name: str) -> bool:
        return bool(self._client.networks.exists(name))

    def container_options(self, spec: ContainerSpec) -> dict[str, Any]:
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
        return options

    def logs(self, name: str, lines: int) -> str:
        try:
            chunks = self._client.containers.get(name).logs(
                stdout=True, stderr=True, tail=lines, stream=False
            )
        except self.api_errors:
            return ""
        if isinstance(chunks, bytes):
            return chunks.decode(errors="replace")
        return b"".join(chunks).decode(errors="replace")

    def remove_network(self, name: str) -> None:
        self._client.networks.get(name).remove(force=True)

    def build_log_tail(self, error: Exception) -> str:
        lines = []
        for entry in getattr(error, "build_log", []) or []:
            text = entry.decode(errors="replace") if isinstance(entry, bytes) else str(entry)
            lines += [line for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else str(error)


def _ports(spec: ContainerSpec) -> dict[str, list[tuple[str, int] | int]]:
    ports: dict[str, list[tuple[str, int] | int]] = {}
    for binding in spec.ports:
        # netavark takes a host address of 0.0.0.0 literally (a DNAT rule for -d 0.0.0.0
        # that nothing matches); "every address" is no address.
        every = binding.host_ip in ("", "0.0.0.0")
        published = binding.host_port if every else (binding.host_ip, binding.host_port)
        ports.setdefault(f"{binding.container_port}/tcp", []).append(published)
    return ports
