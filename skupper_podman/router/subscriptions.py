"""Whole messages to mobile addresses that clients subscribe to (a flow collector's
receiver on ``mc/sfe.all``), and to those the router consumes itself (the flow records'
command address).

A client attaches a receiver for an address: the address is advertised to the network
like a tcpConnector's routing key, and a message for it goes to the client's link.
Addresses under ``mc/`` are multicast, as skupper-router's default ``mc`` prefix: every
subscriber gets one copy, locally one per link, remotely one per next hop toward the
routers with subscribers, each passed on only by routers on the shortest path from its
origin (skupper-router's "valid origins"). Other addresses go to one subscriber.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from proton import Link

from .connection import RouterConnection
from .fabric import Fabric
from .message import RouterAnnotations, encode_annotations

MULTICAST_PREFIX = "mc/"
QUEUED_MAX = 1000  # pre-settled messages a slow subscriber may have waiting; then dropped

Send = Callable[[RouterConnection, Link, bytes], None]


def is_multicast(address: str) -> bool:
    return address.startswith(MULTICAST_PREFIX)


@dataclass
class Subscriptions:
    """Client links subscribed to addresses, client links that send to addresses (an edge
    proxies both up its uplink), and the router's own subscriptions."""

    links: dict[str, list[tuple[int, Link]]] = field(default_factory=dict)
    producers: dict[str, list[tuple[int, Link]]] = field(default_factory=dict)
    own: dict[str, Callable[[bytes], None]] = field(default_factory=dict)  # bare messages

    def add(self, address: str, conn_id: int, link: Link) -> bool:
        """A client's link: a receiver subscribes, a sender produces; True when the
        address is new here."""
        table = self.producers if link.is_receiver else self.links
        found = table.setdefault(address, [])
        found.append((conn_id, link))
        return len(found) == 1 and address not in self.own

    def remove(self, conn_id: int, link: Link | None = None) -> bool:
        """Drop a link (or every link of a connection); True when an address went away."""
        gone = False
        for table in (self.links, self.producers):
            for address, found in list(table.items()):
                kept = [s for s in found if s[0] != conn_id or (link is not None and s[1] != link)]
                if len(kept) != len(found):
                    if kept:
                        table[address] = kept
                    else:
                        del table[address]
                        gone = gone or address not in self.own
        return gone

    def addresses(self) -> set[str]:
        """The addresses subscribed to here."""
        return set(self.links) | set(self.own)


def listened(fabric: Fabric, subscriptions: Subscriptions, address: str) -> bool:
    """Whether anyone, here or elsewhere in the network, subscribes to ``address``."""
    if address in subscriptions.links:
        return True
    if fabric.edge_mode:
        return address in fabric.addresses.uplink
    if any(address in c.edge_consumes for c in fabric.edge_connections.values()):
        return True
    return fabric.routing is not None and bool(fabric.routing.routers_with_address(address))


def deliver(
    fabric: Fabric,
    subscriptions: Subscriptions,
    connections: dict[int, RouterConnection],
    send: Send,
    address: str,
    bare: bytes,
    received: RouterAnnotations | None,
    came_from: RouterConnection | None,
) -> None:
    """A whole message for a subscribed-to address (``bare``: as encoded, without router
    annotations): to the subscribers it is due to. Its bytes are passed on as they came."""
    handler = subscriptions.own.get(address)
    if handler is not None:
        handler(bare)
        if not is_multicast(address):
            return
    for conn_id, link in subscriptions.links.get(address, ()):
        conn = connections.get(conn_id)
        if conn is not None and link.queued < QUEUED_MAX:
            send(conn, link, bare)
            if not is_multicast(address):
                return
    annotations = fabric.outgoing_annotations(received or RouterAnnotations())
    hops = _next_hops(fabric, address, annotations, came_from)
    if hops:
        encoded = encode_annotations(annotations) + bare
        for hop in hops:
            send(hop, hop.message_link(), encoded)


def _next_hops(
    fabric: Fabric,
    address: str,
    annotations: RouterAnnotations,
    came_from: RouterConnection | None,
) -> list[RouterConnection]:
    """The connections a message goes on through: one per next hop (multicast) or the
    one toward the closest subscriber."""
    if fabric.edge_mode:
        up = fabric.uplink
        return (
            [up]
            if up is not None and up is not came_from and address in fabric.addresses.uplink
            else []
        )
    hops: dict[int, RouterConnection] = {}
    for conn in fabric.edge_connections.values():
        if address in conn.edge_consumes and conn is not came_from:
            hops[conn.conn_id] = conn
    routing = fabric.routing
    if routing is not None:
        origin = annotations.ingress or fabric.router_id
        remote = routing.routers_with_address(address)
        for router in sorted(remote, key=lambda r: (remote[r], r)):
            if router in annotations.trace[:-1]:
                continue
            if origin != fabric.router_id and origin not in routing.valid_origins(router):
                continue
            hop = fabric.neighbors.get(routing.next_hop(router) or "")
            if hop is not None and hop is not came_from:
                hops[hop.conn_id] = hop
                if not is_multicast(address):
                    break
    return list(hops.values())
