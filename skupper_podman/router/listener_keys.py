"""Which routing key a tcpListener's new connection goes to.

A listener has one key (``address``), or several (a MultiKeyListener: ``listenerAddress``
entities) with a strategy: ``priority``, the reachable key of highest value; or
``weighted``, a reachable key at random in proportion to its value. A key whose last
connector went away stops being chosen at once; the listener listens while any key is
reachable.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .config import ListenerAddress, TcpListener


def keys(listener: TcpListener, addresses: tuple[ListenerAddress, ...]) -> list[str]:
    """The listener's routing keys, preferred first (priority order, or by weight)."""
    if listener.multiAddressStrategy == "none" or not addresses:
        return [listener.address] if listener.address else []
    ordered = sorted(addresses, key=lambda a: (-a.value, a.name))
    return [a.address for a in ordered]


def choose(
    listener: TcpListener,
    addresses: tuple[ListenerAddress, ...],
    reachable: Callable[[str], bool],
    rng: random.Random,
) -> str | None:
    """The key for one new connection, or None when no key has a consumer."""
    if listener.multiAddressStrategy == "weighted" and addresses:
        candidates = [a for a in addresses if a.value > 0 and reachable(a.address)]
        if not candidates:
            return None
        return rng.choices([a.address for a in candidates], [a.value for a in candidates])[0]
    if listener.multiAddressStrategy == "none" or not addresses:  # one key (most listeners)
        return listener.address if listener.address and reachable(listener.address) else None
    return next((key for key in keys(listener, addresses) if reachable(key)), None)
