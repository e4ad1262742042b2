"""What Skupper's published v2alpha1 CRDs say of each kind's ``spec``, as far as the
documents skupper-podman writes go: each property's type and the required ones. Kept here
(written from the CRDs' openAPIV3Schema, in our own form) so that `site generate` can be
checked against them without the network.

A type is "string", "integer", "boolean", "object" (a map of strings unless given as a
dict of properties), or a list of one item type / one dict of properties.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_SETTINGS = {"settings": "object"}

SPECS: dict[str, tuple[Schema, tuple[str, ...]]] = {
    "Site": (
        {
            "serviceAccount": "string",
            "linkAccess": "string",
            "defaultIssuer": "string",
            "ha": "boolean",
            "edge": "boolean",
            **_SETTINGS,
        },
        (),
    ),
    "Link": (
        {
            "endpoints": [
                {"name": "string", "host": "string", "port": "string", "group": "string"}
            ],
            "tlsCredentials": "string",
            "cost": "integer",
            "noClientAuth": "boolean",
            **_SETTINGS,
        },
        (),
    ),
    "Listener": (
        {
            "routingKey": "string",
            "host": "string",
            "port": "integer",
            "tlsCredentials": "string",
            "type": "string",
            "exposePodsByName": "boolean",
            "observer": "string",
            **_SETTINGS,
        },
        ("routingKey", "host", "port"),
    ),
    "Connector": (
        {
            "routingKey": "string",
            "host": "string",
            "port": "integer",
            "selector": "string",
            "tlsCredentials": "string",
            "useClientCert": "boolean",
            "verifyHostname": "boolean",
            "type": "string",
            "includeNotReadyPods": "boolean",
            "exposePodsByName": "boolean",
            "observer": "string",
            **_SETTINGS,
        },
        ("routingKey", "port"),
    ),
    "RouterAccess": (
        {
            "accessType": "string",
            "issuer": "string",
            "roles": [{"name": "string", "port": "integer"}],
            "generateTlsCredentials": "boolean",
            "tlsCredentials": "string",
            "bindHost": "string",
            "subjectAlternativeNames": ["string"],
            **_SETTINGS,
        },
        ("roles", "tlsCredentials"),
    ),
    "AccessGrant": (
        {
            "redemptionsAllowed": "integer",
            "expirationWindow": "string",
            "code": "string",
            "issuer": "string",
            **_SETTINGS,
        },
        (),
    ),
    "AccessToken": (
        {"url": "string", "code": "string", "ca": "string", "linkCost": "integer", **_SETTINGS},
        ("url", "code", "ca"),
    ),
    "MultiKeyListener": (
        {
            "host": "string",
            "port": "integer",
            "tlsCredentials": "string",
            "exposePodsByName": "boolean",
            "observer": "string",
            "strategy": {
                "priority": {"routingKeysByPriority": ["string"]},
                "weighted": {"weightsByRoutingKey": "object"},
            },
            **_SETTINGS,
        },
        ("host", "port", "strategy"),
    ),
    "Certificate": (
        {
            "ca": "string",
            "subject": "string",
            "hosts": ["string"],
            "client": "boolean",
            "server": "boolean",
            "signing": "boolean",
            **_SETTINGS,
        },
        ("ca", "subject"),
    ),
    "SecuredAccess": (
        {
            "ports": [
                {"name": "string", "port": "integer", "targetPort": "integer", "protocol": "string"}
            ],
            "selector": "object",
            "certificate": "string",
            "issuer": "string",
            "accessType": "string",
            **_SETTINGS,
        },
        ("ports", "selector"),
    ),
}

_PYTHON = {"string": str, "integer": int, "boolean": bool, "object": dict}


def problems(document: dict[str, Any]) -> list[str]:
    """What in one document the CRD of its kind would refuse (empty: valid)."""
    kind = document.get("kind")
    if kind == "Secret":
        return [] if document.get("apiVersion") == "v1" else ["Secret: apiVersion is not v1"]
    if kind not in SPECS:
        return [f"{kind}: not a Skupper v2 kind"]
    found = []
    if document.get("apiVersion") != "skupper.io/v2alpha1":
        found.append(f"{kind}: apiVersion {document.get('apiVersion')!r}")
    if not isinstance(document.get("metadata", {}).get("name"), str):
        found.append(f"{kind}: metadata.name missing")
    properties, required = SPECS[kind]
    spec = document.get("spec", {})
    found += [f"{kind}: spec.{name} is required" for name in required if name not in spec]
    found += _check(spec, properties, f"{kind}: spec")
    return found


def _check(value: Any, schema: Any, where: str) -> list[str]:
    if isinstance(schema, str):
        expected = _PYTHON[schema]
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {schema}, found {type(value).__name__}"]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [
            p
            for index, item in enumerate(value)
            for p in _check(item, schema[0], f"{where}.{index}")
        ]
    if not isinstance(value, dict):
        return [f"{where}: expected an object"]
    found = []
    for key, item in value.items():
        if key not in schema:
            found.append(f"{where}.{key}: not in the CRD")
        else:
            found += _check(item, schema[key], f"{where}.{key}")
    return found
