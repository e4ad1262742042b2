"""The interior routers' link-state routing protocol, sans I/O (skupper-router compatible).

The router core feeds this state machine control-link events, decoded control messages and
the local consumer addresses, always with the current time ``now``; it drains the messages to
send with ``pending_commands()`` and re-arms one timer from ``get_timer()``. After every call
it may read the results: next hop and cost per router, the remote routers that have a
consumer for an address, and ``topology_version`` to know when any of that changed.
No sockets, clocks, threads or asyncio here.

The protocol is skupper-router's (its ``python/skupper_router_internal/router/`` and
``src/router_core/modules/mobile_sync/mobile.c``; our inter-router protocol reference sums it
up): HELLO (one hop, every ``hello_interval``) finds two-way neighbours; RA floods this
router's ``ls_seq`` and ``mobile_seq``; LSR/LSU fetch a router's link state when its RA shows
a newer ``ls_seq``; MAR/MAU keep every router's mobile (consumer) addresses in sync. The wire
format is in ``routing_messages.py``, what is known of the other routers (and the routes
from it) in ``known_routers.py``, path computation in ``spf.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import routing_messages as wire
from .known_routers import KnownRouters
from .routing_messages import ControlMessage, RemoteProtocolError, SendControl, get_field

__all__ = ["ControlMessage", "LinkStateRouter", "RemoteProtocolError", "SendControl"]

_Handler = Callable[[str, Mapping[str, Any], float], None]


class LinkStateRouter:
    """The routing protocol state of one interior router."""

    def __init__(
        self,
        router_id: str,
        *,
        instance: int,
        now: float,
        hello_interval: float = 1.0,
        hello_max_age: float = 3.0,
        ra_interval: float = 30.0,
        ra_interval_flux: float = 4.0,
        remote_ls_max_age: float = 60.0,
        spf_holddown: float = 0.1,
    ) -> None:
        self.router_id = router_id
        self.instance = instance
        self._hello_interval = hello_interval
        self._hello_max_age = hello_max_age
        self._ra_interval = ra_interval
        self._ra_interval_flux = ra_interval_flux
        self._remote_ls_max_age = remote_ls_max_age
        self._spf_holddown = spf_holddown
        self._last_spf = now - spf_holddown
        self._links: dict[str, int] = {}  # open control links: neighbour -> cost
        self._heard: dict[str, float] = {}  # HELLO last received from (our `seen` list)
        self._two_way: dict[str, float] = {}  # two-way neighbours -> last HELLO listing us
        self._ls_seq = 0
        self._ls_peers: dict[str, int] = {}  # our own link state
        self._ls_changed = False
        self._mobile_seq = 0
        self._local_keys: set[str] = set()
        self._known = KnownRouters()
        self._routes_moved = False  # routes changed since requests last waited for one
        self._next_hello = now + hello_interval
        self._last_ra = now
        self._last_topology_change = now  # start in flux: a new router advertises faster
        self._commands: list[SendControl] = []
        self._deadline: float | None = None  # get_timer's answer until the next event
        self._handlers: dict[str, _Handler] = {
            "HELLO": self._on_hello,
            "RA": self._on_ra,
            "LSR": self._on_lsr,
            "LSU": self._on_lsu,
            "MAR": self._on_mar,
            "MAU": self._on_mau,
        }

    # ---- events from the core -------------------------------------------------------------

    def control_link_opened(self, neighbor_id: str, cost: int, now: float) -> None:
        """The control links to ``neighbor_id`` are up; ``cost`` is the link's cost."""
        self._links[neighbor_id] = cost
        self._routes_moved = True  # a neighbour is reachable before any path computation
        if neighbor_id in self._two_way:
            self._set_own_peer(neighbor_id, cost)
        # Say HELLO at once rather than at the next tick: the neighbour sees us a second sooner.
        self._send(wire.HELLO_ADDRESS, neighbor_id, self._hello())
        self._settle(now)

    def control_link_lost(self, neighbor_id: str, now: float) -> None:
        """The control links to ``neighbor_id`` are gone: it is no longer a neighbour."""
        self._links.pop(neighbor_id, None)
        self._heard.pop(neighbor_id, None)
        self._drop_neighbor(neighbor_id)
        self._settle(now)

    def receive(self, msg: ControlMessage, now: float) -> None:
        """Handle a control message. Raises RemoteProtocolError if it is malformed."""
        handler = self._handlers.get(msg.opcode)
        if handler is None:
            return  # an opcode of a newer protocol: skupper-router ignores those too
        sender = get_field(msg.body, "id", str)
        mobile = msg.opcode in ("MAR", "MAU")
        max_pv = wire.MOBILE_PROTOCOL_VERSION if mobile else wire.PROTOCOL_VERSION
        if sender == self.router_id or get_field(msg.body, "pv", int, 0) > max_pv:
            return  # our own flood coming back, or a protocol version we do not speak
        self._deadline = None  # a handler that raises half-way may still have learnt a router
        handler(str(sender), msg.body, now)
        self._known.pending.add(str(sender))  # handlers set flags on the sender's record only
        self._settle(now)

    def set_mobile_addresses(
        self, addresses: set[str], now: float, *, edges: Iterable[str] = ()
    ) -> None:
        """This router's local consumer addresses (and attached edge routers) changed: tell
        every router (differential MAU)."""
        keys = {wire.encode_mobile_address(address) for address in addresses}
        keys |= {wire.encode_edge_summary(edge_id) for edge_id in edges}
        added, deleted = keys - self._local_keys, self._local_keys - keys
        if not added and not deleted:
            return
        self._local_keys = keys
        self._mobile_seq += 1
        mau = wire.mau_differential(self.router_id, self._mobile_seq, added, deleted)
        self._send(wire.ALL_ROUTERS_MA, None, mau)
        # As skupper-router: an RA right after, so routers that missed the MAU ask with a MAR.
        self._send_ra(now)
        self._settle(now)

    def handle_timer(self, now: float) -> None:
        """Run what is due: HELLO, RA, and the expiry of neighbours and link states."""
        self._expire(now)
        if now >= self._next_hello:
            self._next_hello = now + self._hello_interval
            if self._links:
                self._send(wire.HELLO_ADDRESS, None, self._hello())
            self._known.ask_again(asked_before=now - self._hello_interval)
        if now >= self._next_ra_time():
            self._send_ra(now)
        self._settle(now)

    def get_timer(self) -> float:
        """The next time handle_timer must be called."""
        if self._deadline is None:
            self._deadline = self._compute_deadline()
        return self._deadline

    def _compute_deadline(self) -> float:
        deadlines = [self._next_hello, self._next_ra_time()]
        deadlines += [heard + self._hello_max_age for heard in self._heard.values()]
        deadlines += [refresh + self._hello_max_age for refresh in self._two_way.values()]
        if self._known.stale:
            deadlines.append(self._last_spf + self._spf_holddown)
        # Remote link states (a minute old at least) expire at the HELLO ticks, a second late
        # at most: a deadline per remote router would cost a pass over all of them per event.
        return min(deadlines)

    def pending_commands(self) -> list[SendControl]:
        """The messages to send, oldest first; drains them."""
        commands, self._commands = self._commands, []
        return commands

    # ---- results for the core -------------------------------------------------------------

    def next_hop(self, router_id: str) -> str | None:
        """The neighbour to send through to reach ``router_id``; None if unreachable."""
        return self._known.next_hops.get(router_id)

    def reachable_routers(self) -> dict[str, int]:
        """Every reachable router (not this one) and the cost of the path to it."""
        return dict(self._known.costs)

    def routers_with_address(self, address: str) -> dict[str, int]:
        """The reachable remote routers with a consumer for ``address``, and their costs."""
        return self._known.with_key(wire.encode_mobile_address(address))

    def routers_with_edge(self, edge_id: str) -> dict[str, int]:
        """The reachable interior routers that an edge router ``edge_id`` is attached to."""
        return self._known.with_key(wire.encode_edge_summary(edge_id))

    def remote_keys(self) -> set[str]:
        """The hash keys (mobile addresses, edge summaries) of every reachable router."""
        return self._known.reachable_keys()

    def neighbors(self) -> set[str]:
        """The two-way neighbours (their HELLO lists us)."""
        return set(self._two_way)

    def valid_origins(self, router_id: str) -> frozenset[str]:
        """Origins whose multicasts to ``router_id`` this router must forward (loop prevention)."""
        return self._known.valid_origins(router_id)

    def link_state(self, router_id: str) -> dict[str, int] | None:
        """A router's link state as we hold it (this router's own too); None if unknown."""
        if router_id == self.router_id:
            return dict(self._ls_peers)
        node = self._known.records.get(router_id)
        return None if node is None or node.peers is None else dict(node.peers)

    def router_instance(self, router_id: str) -> int | None:
        """The boot instance a router last announced (this router's own too)."""
        if router_id == self.router_id:
            return self.instance
        node = self._known.records.get(router_id)
        return None if node is None else node.instance

    @property
    def last_topology_change(self) -> float:
        """When routes last changed (the ``now`` of that event)."""
        return self._last_topology_change

    @property
    def topology_version(self) -> int:
        """Bumps whenever routes or remote addresses change."""
        return self._known.version

    # ---- message handlers -----------------------------------------------------------------

    def _on_hello(self, sender: str, body: Mapping[str, Any], now: float) -> None:
        seen = get_field(body, "seen", list)
        instance = get_field(body, "instance", int, None)
        first_heard = sender not in self._heard
        self._heard[sender] = now
        if sender not in self._links:
            return  # no control link (yet): no cost, no neighbour; it is only in `seen`
        if first_heard:
            # Answer at once so the neighbour finds us in `seen` without waiting a tick.
            self._send(wire.HELLO_ADDRESS, sender, self._hello())
        if self.router_id in seen:
            self._refresh_neighbor(sender, instance, now)

    def _on_ra(self, sender: str, body: Mapping[str, Any], now: float) -> None:
        ls_seq = get_field(body, "ls_seq", int)
        mobile_seq = get_field(body, "mobile_seq", int)
        node = self._known.learn(sender, now, get_field(body, "instance", int, None))
        node.last_seen = now
        if ls_seq > node.ls_seq and ls_seq > node.asked_ls[0]:
            node.need_lsr = True
            node.asked_ls = (ls_seq, node.asked_ls[1])
        if mobile_seq > node.mobile_seq and mobile_seq > node.asked_mobile[0]:
            node.need_mar = True
            node.asked_mobile = (mobile_seq, node.asked_mobile[1])

    def _on_lsr(self, sender: str, body: Mapping[str, Any], now: float) -> None:
        self._known.learn(sender, now, None).owe_lsu = True  # answered by _send_requests

    def _on_lsu(self, sender: str, body: Mapping[str, Any], now: float) -> None:
        ls = get_field(body, "ls", dict)
        ls_seq = get_field(ls, "ls_seq", int)
        peers = wire.get_cost_map(ls, "peers")
        node = self._known.learn(sender, now, get_field(body, "instance", int, None))
        if node.peers is not None and ls_seq <= node.ls_seq:
            return  # not newer than what we hold
        if node.peers is None:
            # It routed its answer to us, so it knows us: ask for its mobile addresses
            # now rather than wait up to an RA interval for its mobile_seq (skupper-router
            # waits; a MAR to a router that does not know us yet only gets a warning).
            node.need_mar = True
        node.ls_seq, node.peers, node.last_seen = ls_seq, peers, now
        self._known.stale = True
        for peer in peers:
            if peer != self.router_id:
                self._known.learn(peer, now, None)  # a router we may not know yet: ask it

    def _on_mar(self, sender: str, body: Mapping[str, Any], now: float) -> None:
        if get_field(body, "have_seq", int) >= self._mobile_seq:
            return  # already up to date (skupper-router does not answer either)
        self._known.learn(sender, now, None).owe_mau = True  # answered by _send_requests

    def _on_mau(self, sender: str, body: Mapping[str, Any], now: float) -> None:
        mobile_seq = get_field(body, "mobile_seq", int)
        exist, added, deleted = (wire.get_keys(body, name) for name in ("exist", "add", "del"))
        if exist is not None and (added is not None or deleted is not None):
            raise RemoteProtocolError("a MAU with exist must not have add or del")
        if exist is None and (added is None or deleted is None):
            raise RemoteProtocolError("a MAU needs either exist, or both add and del")
        node = self._known.records.get(sender)
        if node is None or mobile_seq < node.mobile_seq:
            return  # unknown router (its RA will make us ask) or an old copy
        if exist is not None:
            self._known.set_keys(node, exist)
        elif added is not None and deleted is not None and mobile_seq == node.mobile_seq + 1:
            self._known.set_keys(node, (node.keys - deleted) | added)
        elif mobile_seq > node.mobile_seq + 1:
            node.need_mar = True  # we missed an update: ask for the full list
            return
        else:
            return  # a second copy of the update applied last (floods may duplicate)
        node.mobile_seq = mobile_seq
        node.need_mar = False

    # ---- state changes --------------------------------------------------------------------

    def _refresh_neighbor(self, neighbor_id: str, instance: int | None, now: float) -> None:
        node = self._known.learn(neighbor_id, now, instance)
        if neighbor_id not in self._two_way:
            node.need_lsr = True
        self._two_way[neighbor_id] = now
        self._set_own_peer(neighbor_id, self._links[neighbor_id])

    def _set_own_peer(self, neighbor_id: str, cost: int) -> None:
        if self._ls_peers.get(neighbor_id) != cost:
            self._ls_peers[neighbor_id] = cost
            self._ls_changed = True

    def _drop_neighbor(self, neighbor_id: str) -> None:
        self._two_way.pop(neighbor_id, None)
        if self._ls_peers.pop(neighbor_id, None) is not None:
            self._ls_changed = True

    def _expire(self, now: float) -> None:
        # Deadlines are compared as `now >= t + age`, the very sum get_timer returns, so a
        # timer that fires on time always finds its work due (no busy loop on rounding).
        for router_id, heard in list(self._heard.items()):
            if now >= heard + self._hello_max_age:
                del self._heard[router_id]
        for router_id, refreshed in list(self._two_way.items()):
            if now >= refreshed + self._hello_max_age:
                self._drop_neighbor(router_id)  # silent for too long: the link is dead
        self._known.expire(now, self._remote_ls_max_age, {*self._two_way, *self._ls_peers})

    def _settle(self, now: float) -> None:
        """Bring derived state up to date after any event: own link state, routes, requests."""
        self._deadline = None  # every event ends here: the next deadline may have moved
        own_change = self._ls_changed
        if own_change:
            self._ls_changed = False
            self._ls_seq += 1
            self._known.stale = True
            self._send_ra(now)  # at once on our own change
        if self._known.stale and (own_change or now >= self._last_spf + self._spf_holddown):
            # Our own links change routes at once (flows are failing over); others' link
            # states at most once per holddown, so a burst of them (a new or restarted
            # router, a network's start) costs one path computation, not one per message.
            self._last_spf = now
            self._last_topology_change = now
            self._known.compute_routes(self.router_id, self._ls_peers)
            self._routes_moved = True
        self._send_requests(now)

    def _send_requests(self, now: float) -> None:
        """LSR and MAR to the routers that need them, and the LSU and MAU answers we owe,
        once we know a way to reach them."""
        routes_moved, self._routes_moved = self._routes_moved, False
        for router_id, node in self._known.due(routes_moved, self._route_to):
            if node.owe_lsu:
                node.owe_lsu = False
                lsu = wire.lsu(self.router_id, self.instance, self._ls_seq, self._ls_peers)
                self._send_to_router(wire.router_address(router_id), router_id, lsu)
            if node.owe_mau:
                node.owe_mau = False
                mau = wire.mau_absolute(self.router_id, self._mobile_seq, self._local_keys)
                self._send_to_router(wire.router_ma_address(router_id), router_id, mau)
            if node.need_lsr:
                node.need_lsr = False
                node.asked_ls = (node.asked_ls[0], now)
                lsr = wire.lsr(self.router_id)
                self._send_to_router(wire.router_address(router_id), router_id, lsr)
            if node.need_mar:
                node.need_mar = False
                node.asked_mobile = (node.asked_mobile[0], now)
                mar = wire.mar(self.router_id, node.mobile_seq)
                self._send_to_router(wire.router_ma_address(router_id), router_id, mar)

    # ---- sending --------------------------------------------------------------------------

    def _next_ra_time(self) -> float:
        """RAs come every ra_interval, or every ra_interval_flux while the topology changes."""
        flux_ends = self._last_topology_change + 2 * self._ra_interval_flux  # as skupper-router
        fast = self._last_ra + self._ra_interval_flux
        return fast if fast <= flux_ends else self._last_ra + self._ra_interval

    def _send_ra(self, now: float) -> None:
        self._last_ra = now
        ra = wire.ra(self.router_id, self.instance, self._ls_seq, self._mobile_seq)
        self._send(wire.ALL_ROUTERS, None, ra)

    def _hello(self) -> ControlMessage:
        return wire.hello(self.router_id, self.instance, self._heard)

    def _route_to(self, router_id: str) -> str | None:
        if router_id in self._known.next_hops:
            return self._known.next_hops[router_id]
        return router_id if router_id in self._links else None

    def _send_to_router(self, to: str, router_id: str, message: ControlMessage) -> None:
        neighbor = self._route_to(router_id)
        if neighbor is not None:  # no way there: drop it, as skupper-router's core would
            self._send(to, neighbor, message)

    def _send(self, to: str, neighbor: str | None, message: ControlMessage) -> None:
        self._commands.append(SendControl(to, neighbor, message))
