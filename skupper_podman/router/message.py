"""AMQP message sections as skupper-router puts them on the wire, encoded and parsed.

A message between routers is: the router-annotations section, then the bare message
(properties, application-properties, body). Streamed TCP messages have an amqp-value
section holding null as their body, followed by the raw bytes of the TCP stream
(not wrapped in further sections). Headers are parsed once per delivery and written once
per stream with ``amqp_codec`` (proton's ``Data`` reads the rare types it does not); the
stream bytes are never decoded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from proton import Data, DataException, Message

from . import amqp_codec as codec

# "SKPR--RA": the router-annotations section descriptor (annotations-version 2).
RA_DESCRIPTOR = 0x534B50522D2D5241
RA_FLAG_STREAMING = 0x01
RA_FLAG_RESEND_RELEASED = 0x02

_HEADER = 0x70
_DELIVERY_ANNOTATIONS = 0x71
_MESSAGE_ANNOTATIONS = 0x72
_PROPERTIES = 0x73
_APPLICATION_PROPERTIES = 0x74
_DATA = 0x75
_AMQP_SEQUENCE = 0x76
_AMQP_VALUE = 0x77
_BODY_SECTIONS = (_DATA, _AMQP_SEQUENCE, _AMQP_VALUE)

STREAM_CONTENT_TYPE = "application/octet-stream"
# The amqp-value section holding null that starts every streamed TCP body.
NULL_BODY = bytes.fromhex("00537740")
_STREAM_CONTENT_TYPE = codec.symbol(STREAM_CONTENT_TYPE)
_STREAM_APPLICATION_PROPERTIES = codec.described(
    _APPLICATION_PROPERTIES, codec.map_(codec.string("V"), codec.int_(1))
)


class MalformedMessage(ValueError):
    """The peer sent a message whose sections cannot be parsed."""


@dataclass(frozen=True, slots=True)
class RouterAnnotations:
    """The router-annotations section, with router ids bare (the wire writes them with
    their area: ``0/<router id>``, as skupper-router's trace-based loop prevention
    matches them)."""

    flags: int = 0
    to_override: str | None = None
    ingress: str | None = None
    trace: tuple[str, ...] = ()
    ingress_mesh: str | None = None  # the edge mesh a message entered by (kept as it is)


@dataclass(slots=True)
class MessageHeader:
    """What routing needs from a message: parsed from its first bytes."""

    annotations: RouterAnnotations | None
    to: str | None
    reply_to: str | None
    correlation_id: Any
    content_type: str | None
    application_properties: dict[str, Any] = field(default_factory=dict)
    # Offset of the bare message (just past the router annotations, 0 without them),
    # of the first body section, and of the first stream byte when the body is
    # the streamed form (amqp-value null followed by raw octets), else None.
    bare_offset: int = 0
    body_offset: int = 0
    stream_offset: int | None = None

    @property
    def address(self) -> str | None:
        """Where the message goes: the annotations' to-override wins over ``to``."""
        if self.annotations is not None and self.annotations.to_override:
            return self.annotations.to_override
        return self.to


AREA = "0"


@functools.lru_cache(maxsize=256)  # a path's streams carry the same ones
def encode_annotations(annotations: RouterAnnotations) -> bytes:
    ingress = annotations.ingress
    fields = [
        codec.uint(annotations.flags),
        codec.optional_string(annotations.to_override),
        codec.optional_string(f"{AREA}/{ingress}" if ingress else None),
        codec.list_(*(codec.string(f"{AREA}/{router_id}") for router_id in annotations.trace)),
    ]
    if annotations.ingress_mesh is not None:
        fields.append(codec.string(annotations.ingress_mesh))
    return codec.described(RA_DESCRIPTOR, codec.list_(*fields))


def _router_id(reference: str) -> str:
    """``0/<router id>`` as skupper-router writes it; a bare id is taken as it is."""
    area, slash, router_id = reference.partition("/")
    return router_id if slash and area == AREA else reference


def encode_stream_header(
    *, to: str, reply_to: str | None, correlation_id: str | None = None
) -> bytes:
    """The bare-message start of a streamed TCP message, up to and including the null body.

    properties: [message-id, user-id, to, subject, reply-to, correlation-id, content-type].
    """
    properties = codec.list_(
        codec.null(),
        codec.null(),
        codec.string(to),
        codec.null(),
        codec.optional_string(reply_to),
        codec.optional_string(correlation_id),
        _STREAM_CONTENT_TYPE,
    )
    return codec.described(_PROPERTIES, properties) + _STREAM_APPLICATION_PROPERTIES + NULL_BODY


def encode_message(message: Message) -> bytes:
    return bytes(message.encode())


def decode_message(encoded: bytes, header: MessageHeader) -> Message:
    """The bare message of a complete delivery whose header was already parsed."""
    message = Message()
    try:
        message.decode(encoded[header.bare_offset :])
    except Exception as e:  # proton raises several types for bad input
        raise MalformedMessage(f"cannot decode message: {e}") from None
    return message


def parse_header(buffer: bytes, *, complete: bool = False) -> MessageHeader | None:
    """Parse sections up to the start of the body; None while more bytes are needed.

    ``complete``: the buffer is the whole message, which may have no body at all.
    """
    offset = 0
    annotations: RouterAnnotations | None = None
    properties: list[Any] = []
    application_properties: dict[str, Any] = {}
    bare_offset = 0
    while True:
        section = _section(buffer, offset)
        if section is None:
            if not complete:
                return None
            if offset < len(buffer):
                raise MalformedMessage("the message ends inside a section")
            return _header(
                annotations, properties, application_properties, bare_offset, offset, None
            )
        descriptor, value, end = section
        if descriptor == RA_DESCRIPTOR:
            if offset != 0:
                raise MalformedMessage("router annotations after the first section")
            annotations = value
            bare_offset = end
        elif descriptor == _PROPERTIES:
            properties = list(value or [])
        elif descriptor == _APPLICATION_PROPERTIES:
            application_properties = dict(value or {})
        elif descriptor in _BODY_SECTIONS:
            stream_offset = end if descriptor == _AMQP_VALUE and value is None else None
            return _header(
                annotations, properties, application_properties, bare_offset, offset, stream_offset
            )
        elif descriptor not in (_HEADER, _DELIVERY_ANNOTATIONS, _MESSAGE_ANNOTATIONS):
            raise MalformedMessage(f"unexpected section descriptor {descriptor!r}")
        offset = end


# Sections that repeat from message to message are known by their bytes: a path's router
# annotations, a stream's application properties and its null body (each flow's own
# properties pass through the cache and out of it). Every flow's header is read by every
# router on its way, and a look-up costs a fraction of decoding.
SECTIONS_KEPT = 256
SECTION_KEPT_MAX = 256


def _section(buffer: bytes, offset: int) -> tuple[int, Any, int] | None:
    """The section at ``offset``: (descriptor, value, end offset); None if incomplete.
    Router annotations come parsed (``RouterAnnotations``); values are shared: not to
    be changed."""
    if offset >= len(buffer):
        return None
    end = _section_end(buffer, offset)
    if end is not None and end - offset <= SECTION_KEPT_MAX:
        if end > len(buffer):
            return None
        known = _known_section(buffer[offset:end])
        if known is not None:
            return known[0], known[1], end
    return _read_section(buffer, offset)


@functools.lru_cache(maxsize=SECTIONS_KEPT)
def _known_section(raw: bytes) -> tuple[int, Any] | None:
    """The section that is the whole of ``raw`` (None: its sizes said otherwise)."""
    section = _read_section(raw, 0)
    return None if section is None or section[2] != len(raw) else section[:2]


def _read_section(buffer: bytes, offset: int) -> tuple[int, Any, int] | None:
    section = _decoded_section(buffer, offset)
    if section is None:
        return None
    descriptor, value, end = section
    if descriptor == RA_DESCRIPTOR:
        value = _parse_annotations(value)
    return descriptor, value, end


def _section_end(buffer: bytes, offset: int) -> int | None:
    """Where the described section at ``offset`` ends, read from its size alone (None: a
    form not read here, or too few bytes to tell; it is decoded then)."""
    if buffer[offset] != 0 or offset + 1 >= len(buffer):
        return None
    descriptor = buffer[offset + 1]  # smallulong or ulong (the router annotations')
    at = offset + 3 if descriptor == 0x53 else offset + 10 if descriptor == 0x80 else None
    if at is None or at >= len(buffer):
        return None
    kind = buffer[at]
    if kind in (0x40, 0x45):  # null, list0
        return at + 1
    if kind in (0xC0, 0xC1) and at + 1 < len(buffer):  # list8, map8
        return at + 2 + buffer[at + 1]
    if kind in (0xD0, 0xD1) and at + 5 <= len(buffer):  # list32, map32
        return at + 5 + int.from_bytes(buffer[at + 1 : at + 5], "big")
    return None


def _decoded_section(buffer: bytes, offset: int) -> tuple[int, Any, int] | None:
    try:
        section, end = codec.decode(buffer, offset)
    except codec.Truncated:
        return None
    except codec.Unsupported:
        return _section_by_proton(buffer, offset)
    if not isinstance(section, codec.Described):
        raise MalformedMessage("a message section must be a described type")
    if not isinstance(section.descriptor, int):
        return _section_by_proton(buffer, offset)
    return section.descriptor, section.value, end


def _section_by_proton(buffer: bytes, offset: int) -> tuple[int, Any, int] | None:
    data = Data()
    try:
        size = data.decode(buffer[offset:])
    except DataException:
        return None
    if size <= 0:
        return None
    descriptor, value = _described(data)
    return descriptor, value, offset + size


def header_of_complete(buffer: bytes) -> MessageHeader:
    """Parse a complete message's header: a message without a body is still valid."""
    header = parse_header(buffer, complete=True)
    assert header is not None  # a complete parse ends with a header or an exception
    return header


def _header(
    annotations: RouterAnnotations | None,
    properties: list[Any],
    application_properties: dict[str, Any],
    bare_offset: int,
    body_offset: int,
    stream_offset: int | None,
) -> MessageHeader:
    properties = properties + [None] * (7 - len(properties))
    content_type = properties[6]
    return MessageHeader(
        annotations=annotations,
        to=_as_str(properties[2]),
        reply_to=_as_str(properties[4]),
        correlation_id=properties[5],
        content_type=str(content_type) if content_type is not None else None,
        application_properties={str(k): v for k, v in application_properties.items()},
        bare_offset=bare_offset,
        body_offset=body_offset,
        stream_offset=stream_offset,
    )


def _described(data: Data) -> tuple[Any, Any]:
    value: Any = data.get_object()
    descriptor = getattr(value, "descriptor", None)
    if descriptor is None:
        raise MalformedMessage("a message section must be a described type")
    return int(descriptor), value.value


def _parse_annotations(value: Any) -> RouterAnnotations:
    if not isinstance(value, list) or len(value) < 4:
        raise MalformedMessage("router annotations must be a list of at least 4 fields")
    flags, to_override, ingress, trace = value[:4]
    if not isinstance(trace, list) or not all(isinstance(t, str) for t in trace):
        raise MalformedMessage("router annotations trace must be a list of strings")
    ingress_mesh = value[4] if len(value) > 4 else None
    return RouterAnnotations(
        flags=int(flags or 0),
        to_override=_as_str(to_override),
        ingress=_router_id(str(ingress)) if ingress else None,
        trace=tuple(_router_id(router) for router in trace),
        ingress_mesh=_as_str(ingress_mesh),
    )


def _as_str(value: Any) -> str | None:
    return None if value is None else str(value)
