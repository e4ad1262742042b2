"""Names, ports, costs and keys as user input: the validated field types of the resources."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
)

API_VERSION = "skupper.io/v2alpha1"
TLS_SECRET_TYPE = "kubernetes.io/tls"
TLS_SECRET_KEYS = ("ca.crt", "tls.crt", "tls.key")

_NAME_MAX = 200


def _check_dns_1123(name: str) -> str:
    """A Kubernetes object name: lower-case DNS-1123 subdomain (here at most 200
    characters: it becomes a file name with its kind in front)."""
    labels = name.split(".")
    if len(name) > _NAME_MAX:
        raise ValueError(f"must be at most {_NAME_MAX} characters")
    if not name or not all(_is_dns_label(x) for x in labels):
        raise ValueError(
            "must be lower-case letters, digits, '-' or '.', starting and ending with a "
            "letter or digit"
        )
    return name


def is_resource_name(name: str) -> bool:
    """Whether ``name`` can name a resource (and so a file of the site)."""
    try:
        _check_dns_1123(name)
    except ValueError:
        return False
    return True


def _is_dns_label(label: str) -> bool:
    if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
        return False
    return all(c.isdigit() or ("a" <= c <= "z") or c == "-" for c in label)


def check_not_blank(value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise ValueError("must be a non-empty string without spaces")
    return value


ResourceName = Annotated[str, AfterValidator(_check_dns_1123)]
Port = Annotated[int, Field(ge=1, le=65535)]
RoutingKey = Annotated[str, AfterValidator(check_not_blank)]
Host = Annotated[str, AfterValidator(check_not_blank)]
MAX_COST = 2**31 - 1  # skupper-router's cost is a signed 32-bit number
Cost = Annotated[int, Field(ge=1, le=MAX_COST)]
Settings = dict[str, str]
# Skupper writes endpoint ports as strings ("55671"); accept both, write strings.
EndpointPort = Annotated[
    Port,
    BeforeValidator(lambda v: int(v) if isinstance(v, str) and v.isdigit() else v),
    PlainSerializer(str, return_type=str),
]
