"""The routing protocol's messages as they are on the wire: addresses, bodies, field checks.

``routing.py`` builds every control message body with the functions here and reads every
received field through ``get_field``, so the wire format (field names, protocol versions,
the encoding of mobile addresses) lives in this one place. The formats are skupper-router's:
HELLO, RA, LSR and LSU from its Python engine (``python/skupper_router_internal/router/
data.py``, pv 1), MAR and MAU from its C module (``src/router_core/modules/mobile_sync/
mobile.c``, pv 2). Bodies hold only str, int, list and dict, so the core can encode them as
an AMQP map as they are (Python int encodes as AMQP long, which both sides accept).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1  # HELLO, RA, LSR, LSU: skupper-router ignores bodies with a higher pv
MOBILE_PROTOCOL_VERSION = 2  # MAR, MAU: mobile_sync.c's PROTOCOL_VERSION
AREA = "0"
HELLO_ADDRESS = "_local/qdhello"
ALL_ROUTERS = "_topo/0/all/qdrouter"
ALL_ROUTERS_MA = "_topo/0/all/qdrouter.ma"
MOBILE_PREFIX = "M"  # the address-hash class of mobile addresses; skupper-router has no phase
TREATMENT_ANYCAST_BALANCED = 3  # qd_address_treatment_t; receivers use it only as a hint


class RemoteProtocolError(ValueError):
    """A peer sent a malformed control message; it was ignored. The core should log it."""


@dataclass(frozen=True)
class ControlMessage:
    """One routing-protocol message, decoded."""

    opcode: str  # "HELLO" | "RA" | "LSR" | "LSU" | "MAR" | "MAU"
    body: dict[str, Any]  # the AMQP map body exactly as on the wire


@dataclass(frozen=True)
class SendControl:
    """Command: send ``message`` to the AMQP address ``to``.

    ``neighbor`` is the neighbour whose control link carries it; None means a copy on every
    control link (HELLO) or a flood to every router (RA, and MAU to ``_topo/0/all/...``).
    """

    to: str
    neighbor: str | None
    message: ControlMessage


def router_address(router_id: str) -> str:
    """The address of a router's routing-protocol endpoint (LSR, LSU)."""
    return f"_topo/0/{router_id}/qdrouter"


def router_ma_address(router_id: str) -> str:
    """The address of a router's mobile-address-sync endpoint (MAR, MAU)."""
    return f"_topo/0/{router_id}/qdrouter.ma"


def encode_mobile_address(address: str) -> str:
    """A mobile address as skupper-router's hash key, the form MAU lists carry ("M" + address)."""
    return MOBILE_PREFIX + address


EDGE_PREFIX = "H"  # an interior router's summary of an edge router attached to it


def encode_edge_summary(edge_id: str) -> str:
    """The hash key an interior advertises for an attached edge router ("H" + edge id)."""
    return EDGE_PREFIX + edge_id


def decode_mobile_address(key: str) -> str | None:
    """The address of a mobile hash key; None for other classes (e.g. "H" edge summaries)."""
    return key[len(MOBILE_PREFIX) :] if key.startswith(MOBILE_PREFIX) else None


def encode_address_descriptor(key: str, *, added: bool) -> list[Any]:
    """A MAU list entry: [hash key, treatment, in-link count] in add/exist, [hash key] in del."""
    return [key, TREATMENT_ANYCAST_BALANCED, 0] if added else [key]


def decode_address_descriptor(item: object) -> str:
    """The hash key of a MAU list entry (a descriptor list, or a bare string from old routers)."""
    if isinstance(item, list) and item and isinstance(item[0], str):
        return str(item[0])
    if isinstance(item, str):
        return str(item)
    raise RemoteProtocolError(f"malformed address descriptor {item!r}")


def header(router_id: str, pv: int, instance: int | None = None) -> dict[str, Any]:
    """The fields every body starts with; ``instance`` only where skupper-router sends it."""
    body: dict[str, Any] = {"id": router_id, "pv": pv, "area": AREA}
    if instance is not None:
        body["instance"] = instance
    return body


def hello(router_id: str, instance: int, seen: Iterable[str]) -> ControlMessage:
    body = header(router_id, PROTOCOL_VERSION, instance) | {"seen": sorted(seen)}
    return ControlMessage("HELLO", body)


def ra(router_id: str, instance: int, ls_seq: int, mobile_seq: int) -> ControlMessage:
    body = header(router_id, PROTOCOL_VERSION, instance)
    return ControlMessage("RA", body | {"ls_seq": ls_seq, "mobile_seq": mobile_seq})


def lsr(router_id: str) -> ControlMessage:
    return ControlMessage("LSR", header(router_id, PROTOCOL_VERSION))


def lsu(router_id: str, instance: int, ls_seq: int, peers: Mapping[str, int]) -> ControlMessage:
    ls = {"id": router_id, "area": AREA, "ls_seq": ls_seq, "peers": dict(peers)}
    body = header(router_id, PROTOCOL_VERSION, instance) | {"ls_seq": ls_seq, "ls": ls}
    return ControlMessage("LSU", body)


def mar(router_id: str, have_seq: int) -> ControlMessage:
    body = header(router_id, MOBILE_PROTOCOL_VERSION) | {"have_seq": have_seq}
    return ControlMessage("MAR", body)


def mau_differential(
    router_id: str, mobile_seq: int, added: Iterable[str], deleted: Iterable[str]
) -> ControlMessage:
    """A MAU with the keys added and deleted since ``mobile_seq - 1`` (both lists always)."""
    body = header(router_id, MOBILE_PROTOCOL_VERSION) | {
        "mobile_seq": mobile_seq,
        "add": [encode_address_descriptor(key, added=True) for key in sorted(added)],
        "del": [encode_address_descriptor(key, added=False) for key in sorted(deleted)],
    }
    return ControlMessage("MAU", body)


def mau_absolute(router_id: str, mobile_seq: int, keys: Iterable[str]) -> ControlMessage:
    """A MAU with the full list of keys (``exist``), the answer to a MAR."""
    body = header(router_id, MOBILE_PROTOCOL_VERSION) | {
        "mobile_seq": mobile_seq,
        "exist": [encode_address_descriptor(key, added=True) for key in sorted(keys)],
    }
    return ControlMessage("MAU", body)


_MISSING: Any = object()


def get_field(body: Mapping[str, Any], key: str, kind: type[Any], default: Any = _MISSING) -> Any:
    """A field of a received body, type-checked; RemoteProtocolError if it is missing or wrong.

    isinstance, not an exact type check, because proton decodes AMQP symbols and unsigned
    integers to subclasses of str and int.
    """
    if key not in body:
        if default is _MISSING:
            raise RemoteProtocolError(f"mandatory field {key!r} missing")
        return default
    value = body[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RemoteProtocolError(f"field {key!r} has type {type(value).__name__}")
    return value


def get_cost_map(body: Mapping[str, Any], key: str) -> dict[str, int]:
    """A {router id: cost} field (an LSU's ``peers``), type-checked."""
    value = get_field(body, key, dict)
    costs: dict[str, int] = {}
    for peer in value:
        if not isinstance(peer, str):
            raise RemoteProtocolError(f"field {key!r} has a key of type {type(peer).__name__}")
        costs[str(peer)] = get_field(value, peer, int)
    return costs


def get_keys(body: Mapping[str, Any], key: str) -> set[str] | None:
    """The hash keys of a MAU list field (add, del, exist); None if the field is absent."""
    items = get_field(body, key, list, None)
    return None if items is None else {decode_address_descriptor(item) for item in items}
