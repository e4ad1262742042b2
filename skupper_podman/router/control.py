"""Whole (non-streamed) messages: the routing protocol, $management, edge address tracking.

These are small messages that arrive complete and are decoded in full, unlike TCP
streams whose bytes are never decoded. Network-wide routing messages
(``_topo/0/all/...``) are relayed along the reverse shortest path from their origin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proton import Link, Message

from . import commands as cmd
from .agent import handle_request
from .connection import RouterConnection
from .fabric import Fabric
from .message import (
    MalformedMessage,
    MessageHeader,
    RouterAnnotations,
    decode_message,
    encode_annotations,
    encode_message,
)
from .routing import ControlMessage, RemoteProtocolError, SendControl
from .view import RouterView

CONTROL_SUFFIXES = ("qdrouter", "qdrouter.ma", "qdhello")
MANAGEMENT_ADDRESS = "$management"
HELLO_ADDRESS = "_local/qdhello"


@dataclass(frozen=True)
class ControlPlane:
    """What whole messages are handled and sent with."""

    fabric: Fabric
    connections: dict[int, RouterConnection]
    view: RouterView  # what management answers from
    log: Callable[[cmd.LogLevel, str, str], None]
    mark_dirty: Callable[[int], None]  # a connection has output to send

    @property
    def router_id(self) -> str:
        return self.fabric.router_id


def is_whole_message_address(plane: ControlPlane, address: str) -> bool:
    if address in (MANAGEMENT_ADDRESS, HELLO_ADDRESS) or address in plane.fabric.endpoint_links:
        return True
    if address.startswith("_topo/"):
        parts = address.split("/", 3)
        if len(parts) == 4 and parts[3] in CONTROL_SUFFIXES:
            return True  # routing messages to any router: ours to handle, others' to relay
        if len(parts) == 4 and parts[2] in ("all", plane.router_id):
            return parts[3] == MANAGEMENT_ADDRESS
    return address == f"_edge/{plane.router_id}/{MANAGEMENT_ADDRESS}"


def _control_target(plane: ControlPlane, address: str) -> str | None:
    """The other router a routing message is addressed to; None if it is for us or all."""
    parts = address.split("/", 3)
    if parts[0] != "_topo" or len(parts) != 4 or parts[2] in ("all", plane.router_id):
        return None
    return parts[2]


def handle_message(
    plane: ControlPlane,
    conn: RouterConnection,
    link: Link,
    address: str,
    header: MessageHeader,
    encoded: bytes,
    now: float,
) -> None:
    try:
        message = decode_message(encoded, header)
    except MalformedMessage as e:
        plane.log("warning", "message", str(e))
        return
    if link == conn.tracking_link:
        _on_address_tracking(plane, message)
        return
    suffix = address.rsplit("/", 1)[-1]
    if suffix in CONTROL_SUFFIXES and _control_target(plane, address) is not None:
        _relay_control(plane, conn, link, address, header, encoded)
    elif suffix in CONTROL_SUFFIXES:
        _on_control(plane, conn, address, header, message, encoded, now)
    elif suffix == MANAGEMENT_ADDRESS:
        reply = handle_request(plane.view, message)
        if reply is not None and message.reply_to:
            send_message(plane, normalize_address(str(message.reply_to)), reply)
    elif address in plane.fabric.endpoint_links:
        send_message(plane, address, message)


def _on_control(
    plane: ControlPlane,
    conn: RouterConnection,
    address: str,
    header: MessageHeader,
    message: Message,
    encoded: bytes,
    now: float,
) -> None:
    if plane.fabric.routing is None:
        return
    properties: dict[Any, Any] = dict(message.properties or {})
    opcode = properties.get("opcode")
    body: Any = message.body
    if not (isinstance(opcode, str) and isinstance(body, dict)):
        return
    control = ControlMessage(opcode, {str(k): v for k, v in body.items()})
    try:
        plane.fabric.routing.receive(control, now)
    except RemoteProtocolError as e:
        plane.log("warning", "routing", f"ignored a {opcode} from {conn.peer_id}: {e}")
    if address.startswith("_topo/0/all/") and header.annotations is not None:
        _relay_flood(plane, conn, header.annotations, message, encoded[header.bare_offset :])


def _relay_control(
    plane: ControlPlane,
    conn: RouterConnection,
    link: Link,
    address: str,
    header: MessageHeader,
    encoded: bytes,
) -> None:
    """Another router's routing message (LSR, LSU, MAR, MAU to one router) passing
    through: on to the next hop on its control link. skupper-router takes routing
    messages only from control links and releases them on any other, so relaying
    them on a data link would keep two routers from learning each other through us."""
    if link != conn.control_receiver:
        return  # routing messages travel on control links only; skupper-router drops these
    route = plane.fabric.route_to_address(address)
    annotations = header.annotations or RouterAnnotations()
    if route is None or route[1] in annotations.trace:
        return
    next_conn = route[0]
    if next_conn.peer_id in annotations.trace:
        return  # it came from there: routes are changing, and it would go round in a loop
    if next_conn.control_sender is None:
        return
    relayed = encode_annotations(plane.fabric.outgoing_annotations(annotations))
    send_encoded(
        plane, next_conn, next_conn.control_sender, relayed + encoded[header.bare_offset :]
    )


def _relay_flood(
    plane: ControlPlane,
    conn: RouterConnection,
    annotations: RouterAnnotations,
    message: Message,
    bare: bytes,
) -> None:
    """Pass a network-wide message on, if it came along our shortest path from its origin.

    One from an origin we have no path to yet is not relayed (skupper-router's forwarder
    neither): with no path there is no way to tell the one copy to relay from the others,
    and relaying every copy floods a large mesh with one per loop-free path."""
    assert plane.fabric.routing is not None
    body: Any = message.body
    origin = annotations.ingress or str(body.get("id", ""))
    if plane.fabric.routing.next_hop(origin) != conn.peer_id:
        return
    relayed = plane.fabric.outgoing_annotations(
        RouterAnnotations(0, None, origin, annotations.trace)
    )
    trace = relayed.trace
    encoded = encode_annotations(relayed) + bare  # as it came: proton re-encodes not all
    for peer, neighbor in plane.fabric.neighbors.items():
        if peer != conn.peer_id and peer not in trace and neighbor.control_sender is not None:
            send_encoded(plane, neighbor, neighbor.control_sender, encoded)


def send_control(plane: ControlPlane, command: SendControl) -> None:
    message = Message(
        address=command.to,
        properties={"opcode": command.message.opcode},
        body=command.message.body,
    )
    annotations = plane.fabric.outgoing_annotations(RouterAnnotations())
    encoded = encode_annotations(annotations) + encode_message(message)
    targets = [command.neighbor] if command.neighbor else list(plane.fabric.neighbors)
    for peer in targets:
        neighbor = plane.fabric.neighbors.get(peer)
        if neighbor is not None and neighbor.control_sender is not None:
            send_encoded(plane, neighbor, neighbor.control_sender, encoded)


def send_message(plane: ControlPlane, address: str, message: Message) -> None:
    """Send a whole message: to a local endpoint (a management client) or another router."""
    endpoint = plane.fabric.endpoint_links.get(address)
    if endpoint is not None:
        conn = plane.connections.get(endpoint[0])
        if conn is not None:
            message.address = address
            send_encoded(plane, conn, endpoint[1], encode_message(message))
        return
    route = plane.fabric.route_to_address(address)
    if route is None:
        return
    conn, _ = route
    link = conn.message_link()
    message.address = address
    annotations = plane.fabric.outgoing_annotations(RouterAnnotations())
    send_encoded(plane, conn, link, encode_annotations(annotations) + encode_message(message))


def send_encoded(plane: ControlPlane, conn: RouterConnection, link: Link, encoded: bytes) -> None:
    """One pre-settled delivery holding a whole encoded message."""
    delivery = link.delivery(conn.next_tag())
    link.send(encoded)
    link.advance()
    delivery.settle()
    plane.mark_dirty(conn.conn_id)


# --- edge address tracking: [hash key, reachable] messages from interior to edge -------------


def send_tracking_updates(plane: ControlPlane) -> None:
    """Tell each attached edge which of the addresses it sends to have consumers elsewhere."""
    for conn in plane.fabric.edge_connections.values():
        tracking = conn.tracking_link
        if tracking is None:
            continue
        for address, last in list(conn.edge_produces.items()):
            reachable = address in plane.fabric.subscribed or plane.fabric.reachable(
                address, excluding_edge=conn.peer_id
            )
            if reachable != last:
                conn.edge_produces[address] = reachable
                update = Message(body=["M" + address, reachable])
                send_encoded(plane, conn, tracking, encode_message(update))


def _on_address_tracking(plane: ControlPlane, message: Message) -> None:
    body = message.body
    if not (isinstance(body, list) and len(body) >= 2 and isinstance(body[0], str)):
        plane.log("warning", "edge", f"ignored a malformed address-tracking update: {body!r}")
        return
    key, reachable = body[0], bool(body[1])
    if key.startswith("M"):
        plane.fabric.uplink_address_changed(key[1:], reachable)


def normalize_address(address: str) -> str:
    """Addresses may come as ``amqp:/name``: the router works with the bare name."""
    if address.startswith("amqp:/"):
        address = address[6:].lstrip("/")
    return address
