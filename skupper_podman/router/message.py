"""AMQP message sections as skupper-router puts them on the wire, encoded and parsed.

A message between routers is: the router-annotations section, then the bare message
(properties, application-properties, body). Streamed TCP messages have an amqp-value
section holding null as their body, followed by the raw bytes of the TCP stream
(not wrapped in further sections). Headers are small and parsed once per delivery, so
python-qpid-proton's ``Data`` codec does the work; the stream bytes are never decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proton import Data, DataException, Message, symbol

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


class MalformedMessage(ValueError):
    """The peer sent a message whose sections cannot be parsed."""


@dataclass(frozen=True, slots=True)
class RouterAnnotations:
    flags: int = 0
    to_override: str | None = None
    ingress: str | None = None
    trace: tuple[str, ...] = ()


@dataclass(slots=True)
class MessageHeader:
    """What routing needs from a message: parsed from its first bytes."""

    annotations: RouterAnnotations | None
    to: str | None
    reply_to: str | None
    correlation_id: Any
    content_type: str | None
    application_properties: dict[str, Any] = field(default_factory=dict)
    # Offset of the first body section, and of the first stream byte when the body is
    # the streamed form (amqp-value null followed by raw octets), else None.
    body_offset: int = 0
    stream_offset: int | None = None

    @property
    def address(self) -> str | None:
        """Where the message goes: the annotations' to-override wins over ``to``."""
        if self.annotations is not None and self.annotations.to_override:
            return self.annotations.to_override
        return self.to


def encode_annotations(annotations: RouterAnnotations) -> bytes:
    data = Data()
    data.put_described()
    data.enter()
    data.put_ulong(RA_DESCRIPTOR)
    data.put_list()
    data.enter()
    data.put_uint(annotations.flags)
    _put_optional_string(data, annotations.to_override)
    _put_optional_string(data, annotations.ingress)
    data.put_list()
    data.enter()
    for router_id in annotations.trace:
        data.put_string(router_id)
    data.exit()
    data.exit()
    data.exit()
    return bytes(data.encode())


def encode_stream_header(
    *, to: str, reply_to: str | None, correlation_id: str | None = None
) -> bytes:
    """The bare-message start of a streamed TCP message, up to and including the null body.

    properties: [message-id, user-id, to, subject, reply-to, correlation-id, content-type].
    """
    data = Data()
    data.put_described()
    data.enter()
    data.put_ulong(_PROPERTIES)
    data.put_list()
    data.enter()
    data.put_null()
    data.put_null()
    data.put_string(to)
    data.put_null()
    _put_optional_string(data, reply_to)
    _put_optional_string(data, correlation_id)
    data.put_symbol(symbol(STREAM_CONTENT_TYPE))
    data.exit()
    data.exit()
    data.put_described()
    data.enter()
    data.put_ulong(_APPLICATION_PROPERTIES)
    data.put_map()
    data.enter()
    data.put_string("V")
    data.put_int(1)
    data.exit()
    data.exit()
    return bytes(data.encode()) + NULL_BODY


def encode_message(message: Message) -> bytes:
    return bytes(message.encode())


def decode_message(encoded: bytes, header: MessageHeader) -> Message:
    """The bare message of a complete delivery whose header was already parsed."""
    message = Message()
    start = _bare_message_start(encoded, header)
    try:
        message.decode(encoded[start:])
    except Exception as e:  # proton raises several types for bad input
        raise MalformedMessage(f"cannot decode message: {e}") from None
    return message


def _bare_message_start(encoded: bytes, header: MessageHeader) -> int:
    if header.annotations is None:
        return 0
    data = Data()
    return int(data.decode(encoded))


def parse_header(buffer: bytes) -> MessageHeader | None:
    """Parse sections up to the start of the body; None while more bytes are needed."""
    offset = 0
    annotations: RouterAnnotations | None = None
    properties: list[Any] = []
    application_properties: dict[str, Any] = {}
    while True:
        data = Data()
        try:
            size = data.decode(buffer[offset:]) if offset < len(buffer) else 0
        except DataException:
            return None
        if size <= 0:
            return None
        descriptor, value = _described(data)
        if descriptor == RA_DESCRIPTOR:
            if offset != 0:
                raise MalformedMessage("router annotations after the first section")
            annotations = _parse_annotations(value)
        elif descriptor == _PROPERTIES:
            properties = list(value or [])
        elif descriptor == _APPLICATION_PROPERTIES:
            application_properties = dict(value or {})
        elif descriptor in _BODY_SECTIONS:
            stream_offset = offset + size if descriptor == _AMQP_VALUE and value is None else None
            return _header(annotations, properties, application_properties, offset, stream_offset)
        elif descriptor not in (_HEADER, _DELIVERY_ANNOTATIONS, _MESSAGE_ANNOTATIONS):
            raise MalformedMessage(f"unexpected section descriptor {descriptor!r}")
        offset += size


def header_of_complete(buffer: bytes) -> MessageHeader:
    """Parse a complete message's header: a message without a body is still valid."""
    header = parse_header(buffer)
    if header is not None:
        return header
    try:
        message = Message()
        message.decode(_strip_annotations(buffer))
    except Exception as e:
        raise MalformedMessage(f"cannot decode message: {e}") from None
    return MessageHeader(
        None,
        message.address,
        message.reply_to,
        message.correlation_id,
        message.content_type,
        dict(message.properties or {}),
        len(buffer),
    )


def _strip_annotations(buffer: bytes) -> bytes:
    data = Data()
    try:
        size = data.decode(buffer)
    except DataException:
        return buffer
    descriptor, _ = _described(data)
    return buffer[size:] if descriptor == RA_DESCRIPTOR else buffer


def _header(
    annotations: RouterAnnotations | None,
    properties: list[Any],
    application_properties: dict[str, Any],
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
    return RouterAnnotations(
        flags=int(flags or 0),
        to_override=_as_str(to_override),
        ingress=_as_str(ingress),
        trace=tuple(trace),
    )


def _as_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _put_optional_string(data: Data, value: str | None) -> None:
    if value is None:
        data.put_null()
    else:
        data.put_string(value)
