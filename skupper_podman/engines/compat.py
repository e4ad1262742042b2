"""The `Engine` operations that are the same on Podman and Docker.

podman-py models its client on docker-py: both have `images`, `containers`, `networks`
and `volumes` managers with the same calls and the same error shapes. `CompatEngine`
implements the `Engine` on that shared surface; `podman.py` and `docker.py` subclass it
with only what truly differs: connecting, the error classes, build and network options,
how a container is described to the library, reading logs, and removing a network.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

from skupper_podman.engines import diagnosis
from skupper_podman.engines.base import (
    ContainerInfo,
    ContainerSpec,
    ContainerState,
    Labelled,
    carries,
    first_label_filter,
)
from skupper_podman.errors import SkupperError

BUILD_TIMEOUT_SECONDS = 1800
# How long one engine call may take once connected (the connect itself has a short
# timeout). Creating a container copies the image's whole file tree when the storage
# driver is vfs (rootless Podman's fallback without fuse-overlayfs): measured 1-11 s for
# the router image on a 2-core host, so a 10 s limit failed the create while Podman
# went on to make the container anyway. The engines' own CLIs set no limit at all.
OPERATION_TIMEOUT_SECONDS = 180


class CompatEngine:
    """An `Engine` over a docker-py-shaped client; subclasses fill in the differences."""

    name: str  # "podman" or "docker"
    api_errors: ClassVar[tuple[type[Exception], ...]]  # everything the library raises
    not_found: ClassVar[type[Exception]]
    build_error: ClassVar[type[Exception]]
    build_options: ClassVar[dict[str, object]] = {}  # added to images.build(...)
    network_options: ClassVar[dict[str, object]] = {}  # added to networks.create(...)
    network_labels_key: ClassVar[str] = "Labels"  # where a network's attrs keep its labels

    def __init__(self, endpoint: str, client: Any, version: str, rootless: bool) -> None:
        self.endpoint = endpoint
        # connected (the probe used the short timeout): from now on, operations
        client.api.timeout = OPERATION_TIMEOUT_SECONDS
        self._client = client
        self._version = version
        self.rootless = rootless

    def version(self) -> str:
        return self._version

    def unusable_reason(self) -> str | None:
        return None

    def build_image(
        self, context: Path, containerfile: str, tag: str, build_args: dict[str, str]
    ) -> None:
        try:
            self._client.images.build(
                path=str(context),
                dockerfile=containerfile,
                tag=tag,
                buildargs=build_args,
                rm=True,
                timeout=BUILD_TIMEOUT_SECONDS,
                **self.build_options,
            )
        except self.build_error as error:
            raise SkupperError(f"image build failed: {self.build_log_tail(error)}") from None
        except self.api_errors as error:
            raise SkupperError(f"image build failed: {explain(error)}") from None

    def create_network(self, name: str, labels: dict[str, str]) -> None:
        try:
            self._client.networks.create(
                name, driver="bridge", labels=labels, **self.network_options
            )
        except self.api_errors as error:
            raise SkupperError(f"cannot create network {name}: {explain(error)}") from None

    def run_container(self, spec: ContainerSpec) -> None:
        options = self.container_options(spec)
        try:
            container = self._client.containers.create(spec.image, **options)
        except self.api_errors as error:
            raise SkupperError(f"cannot create container {spec.name}: {explain(error)}") from None
        try:
            container.start()
        except self.api_errors as error:
            self.remove_container(spec.name, 0)
            raise SkupperError(f"cannot start container {spec.name}: {explain(error)}") from None

    def container(self, name: str) -> ContainerInfo | None:
        try:
            container = self._client.containers.get(name)
        except self.not_found:
            return None
        state: dict[str, Any] = container.attrs.get("State", {})
        # Docker says "Health"; Podman says "Health" or (before 4.x) "Healthcheck".
        health = state.get("Health") or state.get("Healthcheck") or {}
        return ContainerInfo(
            name=name,
            state=ContainerState.parse(str(state.get("Status", "unknown"))),
            health=(str(health["Status"]) or None) if health.get("Status") else None,
            labels=dict(container.labels or {}),
            command=tuple(container.attrs.get("Config", {}).get("Cmd") or ()),
        )

    def signal(self, name: str, signal: str) -> None:
        try:
            self._client.containers.get(name).kill(signal=signal)
        except self.api_errors as error:
            raise SkupperError(f"cannot signal container {name}: {explain(error)}") from None

    def run_in(self, name: str, command: tuple[str, ...]) -> tuple[int, str]:
        try:
            code, streams = self._client.containers.get(name).exec_run(list(command), demux=True)
        except self.api_errors as error:
            raise SkupperError(f"cannot run {command[0]} in {name}: {explain(error)}") from None
        text = b"".join(part or b"" for part in streams).decode(errors="replace")
        return (-1 if code is None else int(code)), text.strip()

    def remove_container(self, name: str, stop_timeout: int) -> None:
        with contextlib.suppress(self.not_found):
            container = self._client.containers.get(name)
            # Only a running one: podman-py's stop of a stopped container (left so by a
            # reboot) fails on the API's empty "not modified" answer.
            if str(container.attrs.get("State", {}).get("Status", "")).lower() == "running":
                with contextlib.suppress(*self.api_errors):
                    container.stop(timeout=stop_timeout)
            container.remove(force=True)

    def find(self, labels: dict[str, str]) -> Labelled:
        selector = {"label": first_label_filter(labels)}
        containers = self._client.containers.list(all=True, filters=selector)
        networks = self._client.networks.list(filters=selector)
        volumes = self._client.volumes.list(filters=selector)
        key = self.network_labels_key
        return Labelled(
            containers=tuple(c.name for c in containers if carries(c.labels, labels)),
            networks=tuple(n.name for n in networks if carries(n.attrs.get(key), labels)),
            volumes=tuple(v.name for v in volumes if carries(v.attrs.get("Labels"), labels)),
        )

    def remove_labelled(self, labels: dict[str, str], stop_timeout: int) -> Labelled:
        found = self.find(labels)
        try:
            for name in found.containers:
                self.remove_container(name, stop_timeout)
            for name in found.networks:
                self.remove_network(name)
            for name in found.volumes:
                self._client.volumes.get(name).remove(force=True)
        except self.api_errors as error:
            raise SkupperError(f"cannot remove the site's containers: {explain(error)}") from None
        return found

    def close(self) -> None:
        self._client.close()

    # What differs between the engines.

    def container_options(self, spec: ContainerSpec) -> dict[str, Any]:
        """The keyword arguments of `containers.create` that make `spec`."""
        raise NotImplementedError

    def remove_network(self, name: str) -> None:
        raise NotImplementedError

    def build_log_tail(self, error: Exception) -> str:
        """The last line a failed build wrote."""
        raise NotImplementedError


def explain(error: Exception) -> str:
    """An engine error in one line: the server's explanation when it gave one."""
    explanation = getattr(error, "explanation", None)
    text = str(explanation or error).strip()
    cause = error.__cause__
    if text.endswith("operation failed") and cause is not None:
        # podman-py's whole message when the request got no answer (requests raised an
        # OSError: the connection broke or the read timed out); the engine said nothing,
        # so say what happened on the way (an error answer's body is already the text)
        text = f"{text}: {type(cause).__name__}: {cause}"
    return diagnosis.with_fix(text.splitlines()[0]) if text else type(error).__name__
