"""Message headers and the small AMQP codec, checked against proton's own codec."""

from __future__ import annotations

from typing import Any

import pytest
from proton import Data, Described, Message, symbol, timestamp, ulong

from skupper_podman.router import amqp_codec as codec
from skupper_podman.router.message import (
    NULL_BODY,
    RA_DESCRIPTOR,
    MalformedMessage,
    RouterAnnotations,
    encode_annotations,
    encode_stream_header,
    header_of_complete,
    parse_header,
)

LONG = "r" * 300  # past the one-byte size of str8 and list8


def proton_decode(encoded: bytes) -> Any:
    data = Data()
    assert data.decode(encoded) == len(encoded)
    return data.get_object()


def proton_encode(value: Any) -> bytes:
    data = Data()
    data.put_object(value)
    return bytes(data.encode())


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (codec.null(), None),
        (codec.uint(0), 0),
        (codec.uint(7), 7),
        (codec.uint(70_000), 70_000),
        (codec.ulong(0), 0),
        (codec.ulong(255), 255),
        (codec.ulong(RA_DESCRIPTOR), RA_DESCRIPTOR),
        (codec.int_(-5), -5),
        (codec.int_(-70_000), -70_000),
        (codec.string(""), ""),
        (codec.string("h\u00e9llo"), "h\u00e9llo"),
        (codec.string(LONG), LONG),
        (codec.symbol("application/octet-stream"), "application/octet-stream"),
        (codec.list_(), []),
        (codec.list_(codec.string("a"), codec.null(), codec.uint(3)), ["a", None, 3]),
        (codec.list_(*[codec.string(LONG)] * 2), [LONG, LONG]),
        (codec.map_(codec.string("V"), codec.int_(1)), {"V": 1}),
    ],
)
def test_what_the_codec_writes_proton_reads_and_the_codec_reads_back(
    encoded: bytes, expected: Any
) -> None:
    assert proton_decode(encoded) == expected
    assert codec.decode(encoded) == (expected, len(encoded))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        ulong(2**40),
        -(2**40),
        "x" * 255,
        "x" * 256,
        symbol("amqp:accepted:list"),
        b"\x00\x01binary",
        [1, "two", [3, None], {"k": "v"}],
        {"a": [1, 2], "b": {"c": None}},
        Described(ulong(0x73), ["to", None]),
    ],
)
def test_what_proton_writes_the_codec_reads(value: Any) -> None:
    encoded = proton_encode(value)
    decoded, end = codec.decode(encoded)
    assert end == len(encoded)
    if isinstance(value, Described):
        assert decoded == codec.Described(value.descriptor, value.value)
    else:
        assert decoded == value


def test_every_cut_short_value_is_truncated_not_wrong() -> None:
    encoded = encode_annotations(RouterAnnotations(1, "to", "ingress", ("a", LONG)))
    for size in range(len(encoded)):
        with pytest.raises(codec.Truncated):
            codec.decode(encoded[:size])


def test_types_it_does_not_read_are_left_to_proton() -> None:
    for value in (1.5, timestamp(1_700_000_000_000)):
        with pytest.raises(codec.Unsupported):
            codec.decode(proton_encode(value))


def test_stream_header_reads_as_proton_reads_it() -> None:
    annotations = RouterAnnotations(flags=1, ingress="east", trace=("east", "hub"))
    encoded = encode_annotations(annotations) + encode_stream_header(
        to="db", reply_to="_topo/0/east/temp.1"
    )
    ra = proton_decode(encode_annotations(annotations))
    # router ids carry their area on the wire, as skupper-router writes them
    assert ra.descriptor == RA_DESCRIPTOR and ra.value == [1, None, "0/east", ["0/east", "0/hub"]]
    message = Message()
    message.decode(encoded[len(encode_annotations(annotations)) : -len(NULL_BODY)] + NULL_BODY)
    assert (message.address, message.reply_to) == ("db", "_topo/0/east/temp.1")
    assert message.content_type == "application/octet-stream"
    assert message.properties == {"V": 1} and message.body is None

    header = parse_header(encoded + b"raw tcp bytes")
    assert header is not None
    assert header.annotations == annotations
    assert (header.to, header.reply_to, header.address) == ("db", "_topo/0/east/temp.1", "db")
    assert header.bare_offset == len(encode_annotations(annotations))
    assert header.stream_offset == len(encoded)
    for size in range(len(encoded)):  # a header split over frames: wait for the rest
        assert parse_header(encoded[:size]) is None


def test_a_header_proton_wrote_with_types_the_codec_does_not_read() -> None:
    properties = {"when": timestamp(1_700_000_000_000), "ratio": 0.5}
    message = Message(address="svc", reply_to="back", body="whole", properties=properties)
    message.creation_time = 1_700_000_000.0
    encoded = encode_annotations(RouterAnnotations(ingress="a")) + bytes(message.encode())
    header = header_of_complete(encoded)
    assert (header.to, header.reply_to) == ("svc", "back")
    assert header.annotations == RouterAnnotations(ingress="a")
    assert header.application_properties["ratio"] == 0.5
    assert header.stream_offset is None


def test_a_complete_message_without_a_body_keeps_its_annotations() -> None:
    message = Message(address="mgmt")
    encoded = encode_annotations(RouterAnnotations(trace=("x",))) + bytes(message.encode())
    header = header_of_complete(encoded)
    assert header.annotations == RouterAnnotations(trace=("x",))
    assert header.to == "mgmt" and header.body_offset == len(encoded)
    with pytest.raises(MalformedMessage):
        header_of_complete(encoded[:-1])


def test_malformed_sections_are_refused() -> None:
    with pytest.raises(MalformedMessage):
        parse_header(codec.string("not a section"))
    second_ra = encode_stream_header(to="x", reply_to=None)[:-4] + encode_annotations(
        RouterAnnotations()
    )
    with pytest.raises(MalformedMessage):
        parse_header(second_ra)


def test_sections_seen_before_read_the_same_from_their_bytes() -> None:
    """A path's annotations, a stream's application properties and null body repeat from
    flow to flow and are known by their bytes; what differs is read each time."""
    annotations = RouterAnnotations(flags=1, ingress="east", trace=("east", "hub"))
    head = encode_annotations(annotations)
    first = parse_header(head + encode_stream_header(to="db", reply_to="r.1") + b"bytes")
    second = parse_header(head + encode_stream_header(to="web", reply_to="r.2") + b"bytes")
    assert first is not None and second is not None
    assert first.annotations == second.annotations == annotations
    assert (first.to, first.reply_to, second.to, second.reply_to) == ("db", "r.1", "web", "r.2")
    assert first.application_properties == second.application_properties == {"V": 1}
    second.application_properties["V"] = 2  # a caller's copy: what is known stays
    again = parse_header(head + encode_stream_header(to="db", reply_to="r.3"))
    assert again is not None and again.application_properties == {"V": 1}
    for size in range(len(head) + 1):  # a known section cut short is still waited for
        assert parse_header(head[:size]) is None
    with pytest.raises(MalformedMessage):  # known bytes in the wrong place are refused
        parse_header(encode_stream_header(to="x", reply_to=None)[:-4] + head)
