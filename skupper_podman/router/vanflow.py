"""Skupper's flow records ("vanflow"): the codes, the messages and one decoder.

What skupper-router emits (its ``src/vanflow.c``; checked against the reference router
in ``tests/interop/test_vanflow.py``), and what ours emits the same way:
- every router has a source id (5 random characters); its records are named
  ``<source>:<n>``, the router's own record ``<source>:0``;
- BEACON to ``mc/sfe.all`` every 10 s while anyone listens there, application properties
  {v: 1, sourceType: "ROUTER", id, address: "mc/sfe.<id>", direct: "sfe.<id>"};
- HEARTBEAT to ``mc/sfe.<id>`` every 2 s while anyone listens there, {v: 1, now (µs), id};
- RECORD to ``mc/sfe.<id>`` (flow records to ``mc/sfe.<id>.flows``): an amqp-value list of
  up to 50 maps {0: record type, 1: identity, attribute code: value, ...} holding only
  what changed since the record was last sent; unsigned values as ulong, the rest as
  strings;
- a message with subject FLUSH to ``sfe.<id>`` makes the router send every live record
  whole again (what a collector does when it first hears a router);
- a TCP flow's record belongs to the listener's router, named in the request's
  correlation-id; the connector's router sends what it knows of the flow (its
  connector, ...) as RECORD messages of "co-records" to ``vfcr.<id>:0`` of the owner.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from proton import Message

from . import amqp_codec as codec

ALL_ADDRESS = "mc/sfe.all"
EVENT_PREFIX = "mc/sfe."
COMMAND_PREFIX = "sfe."
CO_RECORD_PREFIX = "vfcr."  # where a router hears other routers' additions to its flows
FLOWS_SUFFIX = ".flows"
BATCH_MAX = 50  # records per RECORD message
PROPERTIES, APPLICATION_PROPERTIES, AMQP_VALUE = 0x73, 0x74, 0x77  # section descriptors


class RecordType(enum.IntEnum):
    SITE = 0x00
    ROUTER = 0x01
    LINK = 0x02
    CONTROLLER = 0x03
    LISTENER = 0x04
    CONNECTOR = 0x05
    FLOW = 0x06
    PROCESS = 0x07
    IMAGE = 0x08
    INGRESS = 0x09
    EGRESS = 0x0A
    COLLECTOR = 0x0B
    PROCESS_GROUP = 0x0C
    HOST = 0x0D
    LOG = 0x0E
    ROUTER_ACCESS = 0x0F
    BIFLOW_TPORT = 0x10
    BIFLOW_APP = 0x11


FLOW_RECORD_TYPES = frozenset({RecordType.FLOW, RecordType.BIFLOW_TPORT, RecordType.BIFLOW_APP})

# Attribute codes in order, by the names skupper-router's own log gives them; "#" marks
# an unsigned value (sent as ulong), the rest are strings (references, text, trace).
_ATTRIBUTES = [
    "#recordType",
    "identity",
    "parent",
    "#startTime",
    "#endTime",
    "counterflow",
    "peer",
    "process",
    "#sibOrdinal",
    "location",
    "provider",
    "platform",
    "namespace",
    "mode",
    "sourceHost",
    "destHost",
    "protocol",
    "sourcePort",
    "destPort",
    "vanAddress",
    "imageName",
    "imageVersion",
    "hostname",
    "#octets",
    "#latency",
    "#transitLatency",
    "#backlog",
    "method",
    "result",
    "reason",
    "name",
    "trace",
    "buildVersion",
    "#linkCost",
    "direction",
    "#octetRate",
    "#octetsOut",
    "#octetsUnacked",
    "#windowClosures",
    "#windowSize",
    "#flowCountL4",
    "#flowCountL7",
    "#flowRateL4",
    "#flowRateL7",
    "#duration",
    "image",
    "group",
    "#streamId",
    "#logSeverity",
    "logText",
    "sourceFile",
    "#sourceLine",
    "#linkCount",
    "operStatus",
    "role",
    "#upTimeStamp",
    "#downTimeStamp",
    "#downCount",
    "#octetsReverse",
    "#octetRateReverse",
    "connector",
    "#processLatency",
    "proxyHost",
    "proxyPort",
    "errorListenerSide",
    "errorConnectorSide",
    "#activeTlsOrdinal",
    "httpProxy",
]
ATTRIBUTE_NAMES: tuple[str, ...] = tuple(name.lstrip("#") for name in _ATTRIBUTES)
UNSIGNED = frozenset(code for code, name in enumerate(_ATTRIBUTES) if name.startswith("#"))
CODES: Mapping[str, int] = {name: code for code, name in enumerate(ATTRIBUTE_NAMES)}
RECORD_TYPE, IDENTITY = CODES["recordType"], CODES["identity"]


def event_address(source: str) -> str:
    return f"{EVENT_PREFIX}{source}:0"


def flows_address(source: str) -> str:
    return event_address(source) + FLOWS_SUFFIX


def command_address(source: str) -> str:
    return f"{COMMAND_PREFIX}{source}:0"


def co_record_address(source: str) -> str:
    return f"{CO_RECORD_PREFIX}{source}:0"


def source_of(identity: str) -> str:
    """The source id of a record identity ``<source>:<n>`` ("" if it is not one)."""
    source, colon, number = identity.partition(":")
    return source if colon and number.isdigit() else ""


def beacon(source: str, message_id: int) -> bytes:
    properties = {
        "v": codec.uint(1),
        "sourceType": codec.string("ROUTER"),
        "id": codec.string(f"{source}:0"),
        "address": codec.string(event_address(source)),
        "direct": codec.string(command_address(source)),
    }
    return _message(message_id, ALL_ADDRESS, "BEACON", properties, codec.null())


def heartbeat(source: str, message_id: int, now_us: int) -> bytes:
    properties = {
        "v": codec.uint(1),
        "now": codec.ulong(now_us),
        "id": codec.string(f"{source}:0"),
    }
    return _message(message_id, event_address(source), "HEARTBEAT", properties, codec.null())


def record_messages(
    address: str, records: Iterable[Mapping[int, Any]], next_id: Iterator[int]
) -> list[bytes]:
    """RECORD messages for ``address``: the records' maps, 50 to a message."""
    maps = [_wire_map(record) for record in records]
    return [
        _message(next(next_id), address, "RECORD", None, codec.list_(*maps[i : i + BATCH_MAX]))
        for i in range(0, len(maps), BATCH_MAX)
    ]


def _message(
    message_id: int, to: str, subject: str, properties: dict[str, bytes] | None, body: bytes
) -> bytes:
    """A bare message as skupper-router composes these: properties [id, null, to,
    subject], application properties with symbol keys, an amqp-value body."""
    sections = [
        codec.described(
            PROPERTIES,
            codec.list_(
                codec.ulong(message_id), codec.null(), codec.string(to), codec.string(subject)
            ),
        )
    ]
    if properties is not None:
        items = [part for key, value in properties.items() for part in (codec.symbol(key), value)]
        sections.append(codec.described(APPLICATION_PROPERTIES, codec.map_(*items)))
    sections.append(codec.described(AMQP_VALUE, body))
    return b"".join(sections)


def _wire_map(record: Mapping[int, Any]) -> bytes:
    items = []
    for code, value in sorted(record.items()):
        items.append(codec.uint(code))
        if code == RECORD_TYPE:
            items.append(codec.uint(value))
        elif code in UNSIGNED:
            items.append(codec.ulong(value))
        else:
            items.append(codec.string(str(value)))
    return codec.map_(*items)


@dataclass(frozen=True)
class DecodedRecord:
    """One record of a RECORD message, by attribute name."""

    type: str  # "SITE", "ROUTER", ... or the number of a type this decoder does not know
    identity: str
    attributes: dict[str, Any]


def decode_records(message: Message) -> list[DecodedRecord]:
    """The records of a RECORD message; one decoder for skupper-router's and ours."""
    if message.subject != "RECORD" or not isinstance(message.body, list):
        return []
    decoded = []
    for entry in message.body:
        if not isinstance(entry, dict):
            continue
        fields = {int(code): value for code, value in entry.items() if isinstance(code, int)}
        kind = int(fields.pop(RECORD_TYPE, -1))
        identity = str(fields.pop(IDENTITY, ""))
        type_name = RecordType(kind).name if kind in RecordType._value2member_map_ else str(kind)
        attributes = {
            ATTRIBUTE_NAMES[code] if code < len(ATTRIBUTE_NAMES) else str(code): _plain(value)
            for code, value in sorted(fields.items())
        }
        decoded.append(DecodedRecord(type_name, identity, attributes))
    return decoded


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, int) else str(value) if value is not None else None
