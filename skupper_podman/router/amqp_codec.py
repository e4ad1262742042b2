"""A small AMQP 1.0 type codec for the values of message headers, in plain Python.

Every new TCP flow writes two stream headers and reads two; proton's ``Data`` codec costs
about a hundred Python calls for each, a large share of a flow's set-up time. This codec
reads and writes the types headers carry (null, booleans, integers, strings, symbols,
binary, lists, maps, described values) with ``struct`` and slicing. ``decode`` raises
``Unsupported`` for any other type code, and its caller falls back to ``Data``.
Decoded values are plain Python values: ints, str (symbols too), bytes, list, dict.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_DESCRIBED = 0x00


class Unsupported(Exception):
    """A type code this codec does not read (proton's Data does)."""


class Truncated(Exception):
    """The buffer ends inside the value."""


class Described(NamedTuple):
    descriptor: Any
    value: Any


def decode(buffer: bytes, offset: int = 0) -> tuple[Any, int]:
    """The value encoded at ``offset`` and the offset just past it."""
    try:
        return _decode(buffer, offset)
    except (IndexError, struct.error):
        raise Truncated from None


def _decode(b: bytes, i: int) -> tuple[Any, int]:
    code = b[i]
    i += 1
    if code == _DESCRIBED:
        descriptor, i = _decode(b, i)
        value, i = _decode(b, i)
        return Described(descriptor, value), i
    fixed = _FIXED.get(code)
    if fixed is not None:
        size, read = fixed
        end = i + size
        if end > len(b):
            raise Truncated
        return read(b, i), end
    if code in (0xA1, 0xA3, 0xA0, 0xB1, 0xB3, 0xB0):  # str8, sym8, vbin8 and their 32s
        if code & 0x10:
            size, i = _U32.unpack_from(b, i)[0], i + 4
        else:
            size, i = b[i], i + 1
        end = i + size
        if end > len(b):
            raise Truncated
        raw = b[i:end]
        return (raw if code & 0x0F == 0 else raw.decode()), end
    if code == 0x45:  # list0
        return [], i
    if code in (0xC0, 0xC1, 0xD0, 0xD1):  # list8, map8, list32, map32
        if code & 0x10:
            size, count = _U32.unpack_from(b, i)[0], _U32.unpack_from(b, i + 4)[0]
            start, end = i + 8, i + 4 + size
        else:
            size, count = b[i], b[i + 1]
            start, end = i + 2, i + 1 + size
        if end > len(b):
            raise Truncated
        items = []
        j = start
        for _ in range(count):
            item, j = _decode(b, j)
            items.append(item)
        if j != end:
            raise Unsupported(f"size of compound 0x{code:02x} does not match its items")
        if code & 0x01:
            return dict(zip(items[::2], items[1::2], strict=True)), end
        return items, end
    raise Unsupported(f"type code 0x{code:02x}")


_FIXED: dict[int, tuple[int, Any]] = {
    0x40: (0, lambda b, i: None),
    0x41: (0, lambda b, i: True),
    0x42: (0, lambda b, i: False),
    0x56: (1, lambda b, i: b[i] != 0),
    0x43: (0, lambda b, i: 0),  # uint0
    0x44: (0, lambda b, i: 0),  # ulong0
    0x50: (1, lambda b, i: b[i]),  # ubyte
    0x52: (1, lambda b, i: b[i]),  # smalluint
    0x53: (1, lambda b, i: b[i]),  # smallulong
    0x51: (1, lambda b, i: _I8.unpack_from(b, i)[0]),  # byte
    0x54: (1, lambda b, i: _I8.unpack_from(b, i)[0]),  # smallint
    0x55: (1, lambda b, i: _I8.unpack_from(b, i)[0]),  # smalllong
    0x60: (2, lambda b, i: _U16.unpack_from(b, i)[0]),  # ushort
    0x61: (2, lambda b, i: _I16.unpack_from(b, i)[0]),  # short
    0x70: (4, lambda b, i: _U32.unpack_from(b, i)[0]),  # uint
    0x71: (4, lambda b, i: _I32.unpack_from(b, i)[0]),  # int
    0x80: (8, lambda b, i: _U64.unpack_from(b, i)[0]),  # ulong
    0x81: (8, lambda b, i: _I64.unpack_from(b, i)[0]),  # long
}


# --- encoding -------------------------------------------------------------------------------


def null() -> bytes:
    return b"\x40"


def ulong(value: int) -> bytes:
    if value == 0:
        return b"\x44"
    if value < 256:
        return bytes((0x53, value))
    return b"\x80" + _U64.pack(value)


def uint(value: int) -> bytes:
    if value == 0:
        return b"\x43"
    if value < 256:
        return bytes((0x52, value))
    return b"\x70" + _U32.pack(value)


def int_(value: int) -> bytes:
    if -128 <= value < 128:
        return b"\x54" + _I8.pack(value)
    return b"\x71" + _I32.pack(value)


def string(value: str) -> bytes:
    return _variable(0xA1, value.encode())


def symbol(value: str) -> bytes:
    return _variable(0xA3, value.encode("ascii"))


def optional_string(value: str | None) -> bytes:
    return b"\x40" if value is None else string(value)


def _variable(code8: int, raw: bytes) -> bytes:
    if len(raw) < 256:
        return bytes((code8, len(raw))) + raw
    return bytes((code8 | 0x10,)) + _U32.pack(len(raw)) + raw


def list_(*encoded_items: bytes) -> bytes:
    return _compound(0xC0, encoded_items)


def map_(*encoded_items: bytes) -> bytes:
    """A map from its keys and values, encoded, in turn: key, value, key, value..."""
    return _compound(0xC1, encoded_items)


def _compound(code8: int, items: tuple[bytes, ...]) -> bytes:
    body = b"".join(items)
    if len(body) < 255 and len(items) < 256:
        return bytes((code8, len(body) + 1, len(items))) + body
    return bytes((code8 | 0x10,)) + _U32.pack(len(body) + 4) + _U32.pack(len(items)) + body


def described(descriptor: int, encoded_value: bytes) -> bytes:
    return b"\x00" + ulong(descriptor) + encoded_value
