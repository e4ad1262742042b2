"""`debug dump`: one tarball with what it takes to understand a site, and no secret.

It holds the versions, the site's status, its resources (Secrets without their private
keys, grants without their codes), the rendered router config and runtime facts, the
public certificates, and the router's log. Private keys are never read into it: files
named ``*.key`` are skipped and every member is checked for a PEM private key before the
tarball is written.
"""

from __future__ import annotations

import datetime
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from skupper_podman.errors import SkupperError
from skupper_podman.files import write_atomically
from skupper_podman.paths import namespace_paths
from skupper_podman.routerconfig import LINK_PROXY_SETTING
from skupper_podman.site.lifecycle import site_status
from skupper_podman.site.proxy import without_password
from skupper_podman.site.runtime import platform_of
from skupper_podman.site.store import SiteStore
from skupper_podman.site.versions import versions

LOG_LINES = 5000
REDACTED = "<redacted>"
_PRIVATE_KEY = b"PRIVATE KEY-----"


def debug_dump(namespace: str, target: Path) -> list[str]:
    """Write the tarball of ``namespace``'s site to ``target``; returns its member names."""
    store = SiteStore(namespace_paths(namespace))
    members = dict(_members(namespace, store))
    for name, data in members.items():
        if _PRIVATE_KEY in data:
            raise SkupperError(f"debug dump: {name} holds a private key; nothing written")
    buffer = io.BytesIO()
    stamp = datetime.datetime.now(datetime.UTC).timestamp()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"skupper-dump-{namespace}/{name}")
            info.size, info.mtime, info.mode = len(data), int(stamp), 0o600
            tar.addfile(info, io.BytesIO(data))
    write_atomically(target, buffer.getvalue(), mode=0o600)
    return list(members)


def _members(namespace: str, store: SiteStore) -> Iterator[tuple[str, bytes]]:
    yield "versions.json", _json(versions(namespace).to_dict())
    if not store.has_site():
        return
    try:
        yield "status.json", _json(site_status(namespace).to_dict())
    except SkupperError as error:
        yield "status.txt", f"site status failed: {error}\n".encode()
    paths = store.paths
    for path in sorted(paths.resources.glob("*.yaml")):
        yield f"resources/{path.name}", _redacted_yaml(path.read_text())
    for path in sorted(paths.runtime.glob("*.json")):
        data = path.read_bytes()
        yield (
            f"runtime/{path.name}",
            _redacted_config(data) if path == paths.router_config else data,
        )
    for path in sorted(paths.certs.glob("*/*.crt")):
        yield f"certs/{path.parent.name}/{path.name}", path.read_bytes()
    try:
        log = platform_of(store).router_log(paths, LOG_LINES) or ""
    except SkupperError as error:
        log = f"the router's log could not be read: {error}\n"
    yield "router.log", log.encode()


def _redacted_yaml(text: str) -> bytes:
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    return yaml.safe_dump_all([_redact(d) for d in documents], sort_keys=False).encode()


def _redact(document: Any) -> Any:
    if not isinstance(document, dict):
        return document
    kind = document.get("kind")
    if kind == "Secret":
        for section in ("data", "stringData"):
            values = document.get(section)
            if isinstance(values, dict):
                for key in values:
                    if "key" in str(key).lower():  # tls.key, and any other key
                        values[key] = REDACTED
    if kind == "Link":
        settings = (document.get("spec") or {}).get("settings")
        if isinstance(settings, dict) and isinstance(settings.get(LINK_PROXY_SETTING), str):
            settings[LINK_PROXY_SETTING] = without_password(settings[LINK_PROXY_SETTING], REDACTED)
    if kind in ("AccessGrant", "AccessToken"):
        spec = document.get("spec")
        if isinstance(spec, dict) and "code" in spec:
            spec["code"] = REDACTED
    return document


def _redacted_config(data: bytes) -> bytes:
    """The router config with the proxy passwords of its connectors replaced."""
    try:
        entities = json.loads(data)
    except ValueError:
        return data
    for entity in entities if isinstance(entities, list) else ():
        if isinstance(entity, list) and len(entity) == 2 and isinstance(entity[1], dict):
            proxy = entity[1].get("proxy")
            if isinstance(proxy, str):
                entity[1]["proxy"] = without_password(proxy, REDACTED)
    return _json(entities)


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, default=str) + "\n").encode()
