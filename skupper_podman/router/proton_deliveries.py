"""Proton deliveries read and held straight through its C calls, without the binding's
``Delivery`` wrapper: what the data path does with a delivery on every transfer
(``DeliveryState``) and what a stream holds for the delivery's life (``DeliveryHandle``).

The binding's wrapper costs, for every new delivery, an allocation, two ``Disposition``
wrappers, a reference count, and a class look-up for each attribute set on it; a stream
needs a handful of C calls. Attributes still live where the binding keeps them, in a dict
in the delivery's record: a binding wrapper of the same delivery (``link.current``) and
``DeliveryState.attribute`` read what a handle set, and the dict goes when proton frees
the delivery.
"""

from __future__ import annotations

import mmap
from typing import cast

from cproton import ffi as _ffi
from cproton import lib as _lib
from cproton import pn_record_set_py
from proton import Disposition, Link

RECEIVE_MAX = 1024 * 1024  # the most one read of a delivery takes
# One for the whole router (it is one thread): what a read gathers is copied out before
# the next. Mapped, not a bytearray, whose zeroing touches every page: only what bulk
# transfers use becomes resident.
_recv_buffer = mmap.mmap(-1, RECEIVE_MAX)


def _receive(link_impl: object, size: int) -> bytes:
    """Up to ``size`` bytes of the link's current delivery (one copy, no allocation: the
    binding's ``Link.recv`` allocates a buffer of the size asked and copies a slice)."""
    size = min(size, RECEIVE_MAX)
    if size <= 0:
        return b""
    got = _lib.pn_link_recv(link_impl, _ffi.from_buffer(_recv_buffer), size)
    return bytes(memoryview(_recv_buffer)[:got]) if got > 0 else b""


def _attributes(impl: object) -> dict[str, object] | None:
    handle = _lib.pn_record_get_py(_lib.pn_delivery_attachments(impl))
    if handle == _ffi.NULL:
        return None
    return cast(dict[str, object], _ffi.from_handle(handle))


class DeliveryState:
    """What the data path reads of the delivery of an event, on every transfer (nothing
    is held: a reference would cost a count each way)."""

    __slots__ = ("_impl",)

    def __init__(self, impl: object) -> None:
        self._impl = impl

    def attribute(self, name: str) -> object:
        attributes = _attributes(self._impl)
        return None if attributes is None else attributes.get(name)

    @property
    def partial(self) -> bool:
        return bool(_lib.pn_delivery_partial(self._impl))

    @property
    def aborted(self) -> bool:
        return bool(_lib.pn_delivery_aborted(self._impl))

    def receive(self) -> bytes:
        """What has arrived of it and was not read yet."""
        pending = int(_lib.pn_delivery_pending(self._impl))
        return _receive(_lib.pn_delivery_link(self._impl), pending)

    def hold(self) -> DeliveryHandle:
        return DeliveryHandle(self._impl)


class DeliveryHandle:
    """A delivery a stream holds: a reference to proton's C delivery while it lives (as
    the binding's wrapper keeps one), its attributes, and the few calls streams make."""

    __slots__ = ("_impl", "_link_impl", "attributes")

    def __init__(self, impl: object, link_impl: object = None) -> None:
        _lib.pn_incref(impl)
        self._impl = impl
        self._link_impl = link_impl  # a sender's (``new``): where ``send`` writes
        attributes = _attributes(impl)
        if attributes is None:
            attributes = {}
            record = _lib.pn_delivery_attachments(impl)
            _lib.pn_record_def_py(record)
            pn_record_set_py(record, attributes)  # kept until proton frees the record
        self.attributes = attributes

    @classmethod
    def new(cls, link: Link, tag: str) -> DeliveryHandle:
        """A new delivery on a sender link."""
        raw = tag.encode()
        return cls(_lib.pn_delivery(link._impl, (len(raw), _ffi.from_buffer(raw))), link._impl)

    def __del__(self) -> None:
        _lib.pn_decref(self._impl)

    @property
    def settled(self) -> bool:
        """Settled by the peer."""
        return bool(_lib.pn_delivery_settled(self._impl))

    @property
    def remote_state(self) -> int:
        """The peer's disposition type (0: none yet)."""
        return int(_lib.pn_delivery_remote_state(self._impl))

    @property
    def remote_section_offset(self) -> int:
        return int(_lib.pn_disposition_get_section_offset(_lib.pn_delivery_remote(self._impl)))

    @property
    def remote_undeliverable(self) -> bool:
        return bool(_lib.pn_disposition_is_undeliverable(_lib.pn_delivery_remote(self._impl)))

    def send(self, data: bytes) -> None:
        """Bytes of this delivery, its sender link's current one (the binding's
        ``Sender.send`` takes three calls more to get there)."""
        _lib.pn_link_send(self._link_impl, _ffi.from_buffer(data), len(data))

    def update(self, state: int) -> None:
        """A disposition without data, annotations or condition (all of ours): the
        binding's ``update`` writes those three again on every call."""
        _lib.pn_delivery_update(self._impl, state)

    def received(self, offset: int) -> None:
        """RECEIVED, with ``offset`` body bytes passed on (a stream's window)."""
        local = _lib.pn_delivery_local(self._impl)
        _lib.pn_disposition_set_section_number(local, 0)
        _lib.pn_disposition_set_section_offset(local, offset)
        _lib.pn_delivery_update(self._impl, Disposition.RECEIVED)

    def undeliverable_here(self) -> None:
        """MODIFIED with delivery-failed and undeliverable-here."""
        local = _lib.pn_delivery_local(self._impl)
        _lib.pn_disposition_set_failed(local, True)
        _lib.pn_disposition_set_undeliverable(local, True)
        _lib.pn_delivery_update(self._impl, Disposition.MODIFIED)

    def settle(self) -> None:
        _lib.pn_delivery_settle(self._impl)

    def abort(self) -> None:
        _lib.pn_delivery_abort(self._impl)
