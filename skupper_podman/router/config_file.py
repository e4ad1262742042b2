"""The router's config file: a JSON array of ``[entityType, {attributes}]`` pairs (the form
skupper-router reads), written from the entities of ``config.py`` and read back into them.

Unknown entity types and attributes are errors (a typo must not be silently ignored).
Relative file paths are resolved against the folder of the config file, so the same file
works on the host and mounted into a container.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from .config import (
    AddressSettings,
    AmqpConnector,
    AmqpListener,
    ConfigEntity,
    ConfigError,
    GrantServerSettings,
    ListenerAddress,
    LogSettings,
    MetricsSettings,
    Revocation,
    RouterConfig,
    RouterSettings,
    SiteInfo,
    SslProfile,
    TcpConnector,
    TcpListener,
)
from .http_observer import OBSERVERS

_ENTITY_TYPES: dict[str, type] = {
    "router": RouterSettings,
    "sslProfile": SslProfile,
    "listener": AmqpListener,
    "connector": AmqpConnector,
    "tcpListener": TcpListener,
    "tcpConnector": TcpConnector,
    "listenerAddress": ListenerAddress,
    "address": AddressSettings,
    "log": LogSettings,
    "site": SiteInfo,
    "metrics": MetricsSettings,
    "grantServer": GrantServerSettings,
    "revocation": Revocation,
}
_PATH_ATTRIBUTES = (
    "trustFile",
    "caCertFile",
    "certFile",
    "privateKeyFile",
    "outputFile",
    "debugDumpFile",
    "grantsDir",
    "caKeyFile",
    "file",
    "path",  # metrics' unix socket
)


_ENTITY_NAMES = {cls: name for name, cls in _ENTITY_TYPES.items()}


_IDENTITY = ("id", "name", "module", "prefix")  # what a reload matches entities by


def entity_pair(entity: ConfigEntity) -> tuple[str, dict[str, Any]]:
    """``entity`` as the file holds it: its type, its identity, and the attributes that
    are not their defaults."""
    attributes = {
        f.name: getattr(entity, f.name)
        for f in fields(entity)
        if f.name in _IDENTITY or f.default is MISSING or getattr(entity, f.name) != f.default
    }
    return _ENTITY_NAMES[type(entity)], attributes


def render_config(entities: Iterable[ConfigEntity]) -> str:
    """The config file's text: a JSON array of [entityType, attributes] pairs."""
    pairs = [list(entity_pair(entity)) for entity in entities]
    return json.dumps(pairs, indent=2) + "\n"


def load_config(path: Path) -> RouterConfig:
    """Read and validate the config file at ``path``."""
    try:
        raw = json.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON: {e}") from None
    return parse_config(raw, base_dir=path.parent)


def parse_config(raw: Any, *, base_dir: Path) -> RouterConfig:
    if not isinstance(raw, list):
        raise ConfigError("the config must be a JSON array of [entityType, {attributes}] pairs")
    entities: dict[str, list[Any]] = {name: [] for name in _ENTITY_TYPES}
    for index, item in enumerate(raw):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict)):
            raise ConfigError(f"entry {index}: expected [entityType, {{attributes}}]")
        kind, attributes = item
        if kind not in _ENTITY_TYPES:
            raise ConfigError(f"entry {index}: unknown entity type {kind!r}")
        entities[kind].append(_build(_ENTITY_TYPES[kind], attributes, f"{kind} #{index}", base_dir))
    routers = entities["router"]
    if len(routers) != 1:
        raise ConfigError("the config must hold exactly one 'router' entity")
    config = RouterConfig(
        router=routers[0],
        ssl_profiles=_by_name(entities["sslProfile"], "sslProfile"),
        listeners=_by_name(entities["listener"], "listener"),
        connectors=_by_name(entities["connector"], "connector"),
        tcp_listeners=_by_name(entities["tcpListener"], "tcpListener"),
        tcp_connectors=_by_name(entities["tcpConnector"], "tcpConnector"),
        listener_addresses=_by_listener(entities["listenerAddress"]),
        addresses=tuple(entities["address"]),
        logs=tuple(entities["log"]),
        site=entities["site"][0] if entities["site"] else SiteInfo(),
        metrics=entities["metrics"][0] if entities["metrics"] else None,
        grant_server=entities["grantServer"][0] if entities["grantServer"] else None,
        revoked=frozenset().union(*(r.fingerprint_set() for r in entities["revocation"])),
    )
    _check_references(config)
    return config


def _build(cls: type, attributes: dict[str, Any], where: str, base_dir: Path) -> Any:
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in attributes.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown attribute {key!r}")
        values[key] = _coerce(value, str(known[key].type), f"{where}.{key}")
        if key in _PATH_ATTRIBUTES and values[key]:
            values[key] = str(base_dir / values[key])
    try:
        return cls(**values)
    except TypeError as e:
        missing = str(e).split("argument")[-1].strip(": ")
        raise ConfigError(f"{where}: missing attribute {missing}") from None


def _coerce(value: Any, type_name: str, where: str) -> Any:
    # skrouterd.json writes ports as strings or numbers, booleans as true/"yes": accept both.
    if type_name == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if type_name == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("yes", "true", "1"):
            return True
        if str(value).lower() in ("no", "false", "0"):
            return False
        raise ConfigError(f"{where}: expected a boolean, got {value!r}")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _by_name(items: list[Any], kind: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in items:
        if item.name in result:
            raise ConfigError(f"two {kind} entities are named {item.name!r}")
        result[item.name] = item
    return result


def _by_listener(items: list[ListenerAddress]) -> dict[str, tuple[ListenerAddress, ...]]:
    found: dict[str, list[ListenerAddress]] = {}
    for item in items:
        found.setdefault(item.listener, []).append(item)
    return {name: tuple(entries) for name, entries in found.items()}


def _check_references(config: RouterConfig) -> None:
    amqp: list[AmqpListener | AmqpConnector] = [
        *config.listeners.values(),
        *config.connectors.values(),
    ]
    for entity in amqp:
        if entity.sslProfile and entity.sslProfile not in config.ssl_profiles:
            raise ConfigError(f"{entity.name}: unknown sslProfile {entity.sslProfile!r}")
        if not 0 <= entity.port <= 65535:
            raise ConfigError(f"{entity.name}: port {entity.port} out of range")
    metrics = config.metrics
    if metrics is not None and not metrics.path:
        if not _is_loopback(metrics.host):
            raise ConfigError(f"metrics: host {metrics.host!r} is not a loopback address")
        if not 0 < metrics.port <= 65535:
            raise ConfigError(f"metrics: needs a port (1-65535) or a path, not port {metrics.port}")
    grants = config.grant_server
    if grants is not None and grants.sslProfile and grants.sslProfile not in config.ssl_profiles:
        raise ConfigError(f"grantServer: unknown sslProfile {grants.sslProfile!r}")
    tcp_entities: list[TcpListener | TcpConnector] = [
        *config.tcp_listeners.values(),
        *config.tcp_connectors.values(),
    ]
    for name, entries in config.listener_addresses.items():
        listener = config.tcp_listeners.get(name)
        if listener is None:
            raise ConfigError(f"listenerAddress {entries[0].name}: unknown tcpListener {name!r}")
        if listener.multiAddressStrategy not in ("priority", "weighted"):
            raise ConfigError(f"{name}: listenerAddress entities need a multiAddressStrategy")
    for tcp in tcp_entities:
        if tcp.sslProfile and tcp.sslProfile not in config.ssl_profiles:
            raise ConfigError(f"{tcp.name}: unknown sslProfile {tcp.sslProfile!r}")
        if not 0 < tcp.port <= 65535:
            raise ConfigError(f"{tcp.name}: port {tcp.port} out of range")
        if isinstance(tcp, TcpListener) and tcp.observer not in ("", *OBSERVERS):
            raise ConfigError(f"{tcp.name}: observer {tcp.observer!r} is not one of {OBSERVERS}")
        multi = isinstance(tcp, TcpListener) and tcp.multiAddressStrategy != "none"
        if not tcp.address and not multi:
            raise ConfigError(f"{tcp.name}: empty address")
