"""Which addresses this router consumes, told to the network: its tcpConnectors' keys
while their backends answer, its edges' consumers, and the clients' and its own
subscriptions. An interior advertises them in the routing protocol (MAU); an edge
attaches a link for each on its uplink, and one for each address it sends to (its
listeners' keys, its flow records' addresses): the interior then tells it whether
anyone consumes them."""

from __future__ import annotations

from collections.abc import Callable

from .fabric import Fabric
from .observation import Observation
from .tcp_adaptor import TcpAdaptor


class Advertising:
    def __init__(
        self,
        fabric: Fabric,
        tcp: TcpAdaptor,
        observation: Observation,
        mark_dirty: Callable[[int], None],
    ) -> None:
        self.fabric = fabric
        self.tcp = tcp
        self.subscriptions = observation.subscriptions
        self.observation = observation
        self.mark_dirty = mark_dirty

    def sync(self, now: float) -> None:
        """Local consumers changed (config, edges, backends' health, subscriptions):
        advertise them, re-check listeners."""
        fabric = self.fabric
        fabric.addresses.set_local(self.tcp.in_rotation())
        subscribed = fabric.subscribed = self.subscriptions.addresses()
        if fabric.routing is not None:
            consumed = fabric.addresses.consumer_addresses() | subscribed
            fabric.routing.set_mobile_addresses(consumed, now, edges=fabric.edge_connections)
        if fabric.uplink is not None:
            self.sync_uplink()
        fabric.topology_version = -1

    def sync_uplink(self) -> None:
        uplink = self.fabric.uplink
        if uplink is None:
            return
        consumes = {key for _, key in self.tcp.in_rotation()} | self.subscriptions.addresses()
        produces = self.tcp.produced_keys() | self.observation.produced_addresses()
        uplink.sync_edge_addresses(consumes, produces)
        self.mark_dirty(uplink.conn_id)

    def edges_changed(self, now: float) -> None:
        """An attached edge added or removed a consumer or produced-to address."""
        self.fabric.addresses.edges = {}
        for edge_id, conn in self.fabric.edge_connections.items():
            for address in conn.edge_consumes:
                self.fabric.addresses.add_edge_consumer(address, edge_id)
        self.sync(now)
