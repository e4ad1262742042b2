"""Tests of the sans-I/O link-state routing protocol (skupper_podman.router.routing).

Several LinkStateRouter instances are joined by an in-memory bus that delivers their
SendControl commands the way the router core will: HELLO one hop, floods to every router the
sender can reach, and every routed message hop by hop along each router's own next_hop. A fake
clock advances in small steps in bounded loops. No sockets.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from proton import Message

from skupper_podman.router import routing_messages as wire
from skupper_podman.router.routing import (
    ControlMessage,
    LinkStateRouter,
    RemoteProtocolError,
    SendControl,
)

START = 1_000.0
STEP = 0.05
HELLO_MAX_AGE = 3.0
SPF_HOLDDOWN = 0.1

Delivery = tuple[str, str, SendControl]  # sender, receiver, command


class Bus:
    """Routers joined by control links, with a fake clock; stands in for the router core."""

    def __init__(self, *router_ids: str, wire_roundtrip: bool = False) -> None:
        self.now = START
        self.routers = {rid: LinkStateRouter(rid, instance=1, now=self.now) for rid in router_ids}
        self.links: dict[frozenset[str], int] = {}
        self.dead: set[str] = set()
        self.delivered: list[Delivery] = []
        self.drop: Callable[[str, str, SendControl], bool] = lambda src, dst, cmd: False
        self.wire_roundtrip = wire_roundtrip  # pass every body through proton's AMQP codec

    # ---- topology changes ----------------------------------------------------------------

    def connect(self, a: str, b: str, cost: int = 1) -> None:
        self.links[frozenset((a, b))] = cost
        self.routers[a].control_link_opened(b, cost, self.now)
        self.routers[b].control_link_opened(a, cost, self.now)
        self.pump()

    def disconnect(self, a: str, b: str) -> None:
        """The connection drops and both ends notice at once."""
        del self.links[frozenset((a, b))]
        self.routers[a].control_link_lost(b, self.now)
        self.routers[b].control_link_lost(a, self.now)
        self.pump()

    def kill(self, router_id: str) -> None:
        """The router stops dead; its neighbours' connections stay up (no FIN, as on SIGKILL)."""
        self.dead.add(router_id)

    def restart(self, router_id: str, instance: int, addresses: set[str]) -> None:
        """The router restarts with a new instance; its connections drop and come back."""
        peers = [next(iter(link - {router_id})) for link in self.links if router_id in link]
        for peer in peers:
            self.routers[peer].control_link_lost(router_id, self.now)
        fresh = LinkStateRouter(router_id, instance=instance, now=self.now)
        fresh.set_mobile_addresses(addresses, self.now)
        self.routers[router_id] = fresh
        self.pump()
        for peer in peers:
            cost = self.links[frozenset((router_id, peer))]
            fresh.control_link_opened(peer, cost, self.now)
            self.routers[peer].control_link_opened(router_id, cost, self.now)
        self.pump()

    # ---- delivery ------------------------------------------------------------------------

    def linked(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.links and not {a, b} & self.dead

    def pump(self) -> None:
        """Deliver commands until every router is quiet."""
        for _ in range(1_000):
            batch = [
                (rid, cmd)
                for rid, router in self.routers.items()
                for cmd in router.pending_commands()
            ]
            if not batch:
                return
            for rid, cmd in batch:
                if rid not in self.dead:
                    self._dispatch(rid, cmd)
        raise AssertionError("control messages never settled")

    def _dispatch(self, src: str, cmd: SendControl) -> None:
        if cmd.to == wire.HELLO_ADDRESS:
            targets = [cmd.neighbor] if cmd.neighbor else self._link_peers(src)
            for target in targets:
                if self.linked(src, target):
                    self._deliver(src, target, cmd)
        elif cmd.to in (wire.ALL_ROUTERS, wire.ALL_ROUTERS_MA):
            assert cmd.neighbor is None
            sender = self.routers[src]
            for dest in sorted(sender.reachable_routers()):
                self._route(src, dest, cmd, sender.next_hop(dest))
        else:
            dest = cmd.to.split("/")[2]  # _topo/0/<router-id>/qdrouter[.ma]
            self._route(src, dest, cmd, cmd.neighbor)

    def _route(self, src: str, dest: str, cmd: SendControl, first_hop: str | None) -> None:
        """Forward hop by hop along each router's next hop, as the cores do."""
        here, hop = src, first_hop
        for _ in range(len(self.routers)):
            if hop is None or not self.linked(here, hop):
                return  # no route, or a dead link: lost, as on a real network
            if hop == dest:
                self._deliver(src, dest, cmd)
                return
            here, hop = hop, self.routers[hop].next_hop(dest)
        # A transient loop while routers disagree: the real core drops it by trace.

    def _link_peers(self, router_id: str) -> list[str]:
        return sorted(next(iter(link - {router_id})) for link in self.links if router_id in link)

    def _deliver(self, src: str, dst: str, cmd: SendControl) -> None:
        if self.drop(src, dst, cmd):
            return
        self.delivered.append((src, dst, cmd))
        body = self._transfer(cmd.message)
        self.routers[dst].receive(ControlMessage(cmd.message.opcode, body), self.now)

    def _transfer(self, msg: ControlMessage) -> dict[str, Any]:
        if not self.wire_roundtrip:
            return copy.deepcopy(msg.body)
        sent = Message(body=msg.body, properties={"opcode": msg.opcode})
        received = Message()
        received.decode(sent.encode())
        assert received.properties == {"opcode": msg.opcode}
        assert isinstance(received.body, dict)
        return received.body

    # ---- time ----------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.run_until(lambda: False, within=seconds, must=False)

    def run_until(self, done: Callable[[], bool], within: float, must: bool = True) -> float:
        """Step the clock until done() holds; returns the time it took."""
        start = self.now
        for _ in range(round(within / STEP)):
            if done():
                return self.now - start
            self.now = round(self.now + STEP, 6)
            self._fire_timers()
            self.pump()
        if must and not done():
            raise AssertionError(f"not done within {within} s")
        return self.now - start

    def _fire_timers(self) -> None:
        for rid, router in self.routers.items():
            timer = router.get_timer()
            if rid not in self.dead and timer is not None and timer <= self.now:
                router.handle_timer(self.now)
                next_timer = router.get_timer()
                assert next_timer is None or next_timer > self.now, "timer left in the past"

    def sent(self, src: str, opcode: str) -> list[Delivery]:
        return [d for d in self.delivered if d[0] == src and d[2].message.opcode == opcode]


def converged(bus: Bus) -> bool:
    """Every live router reaches every other live router it is connected to."""
    alive = [rid for rid in bus.routers if rid not in bus.dead]
    return all(
        set(bus.routers[rid].reachable_routers()) == set(alive) - {rid}
        and bus.routers[rid].neighbors() == {p for p in bus._link_peers(rid) if bus.linked(rid, p)}
        for rid in alive
    )


def network(*router_ids: str, links: str, **kw: Any) -> Bus:
    """A converged network; ``links`` like "AB:5 BC" (cost after the colon, 1 by default)."""
    bus = Bus(*router_ids, **kw)
    for link in links.split():
        pair, _, cost = link.partition(":")
        bus.connect(pair[0], pair[1], int(cost or 1))
    bus.run_until(lambda: converged(bus), within=10)
    return bus


# ---- two routers --------------------------------------------------------------------------


def test_hello_body_is_exactly_skupper_routers() -> None:
    router = LinkStateRouter("A", instance=1700000000, now=START)
    router.control_link_opened("B", 1, START)
    assert router.pending_commands() == [
        SendControl(
            "_local/qdhello",
            "B",
            ControlMessage(
                "HELLO", {"id": "A", "pv": 1, "area": "0", "instance": 1700000000, "seen": []}
            ),
        )
    ]
    hello_b = {"id": "B", "pv": 1, "area": "0", "instance": 7, "seen": []}
    router.receive(ControlMessage("HELLO", hello_b), START + 0.5)
    router.handle_timer(START + 1.0)
    hellos = [c for c in router.pending_commands() if c.message.opcode == "HELLO"]
    assert hellos[-1] == SendControl(
        "_local/qdhello",
        None,
        ControlMessage(
            "HELLO", {"id": "A", "pv": 1, "area": "0", "instance": 1700000000, "seen": ["B"]}
        ),
    )


def test_two_routers_become_two_way_neighbours_and_learn_each_others_addresses() -> None:
    bus = Bus("A", "B", wire_roundtrip=True)
    bus.routers["A"].set_mobile_addresses({"backend:8080"}, bus.now)
    bus.connect("A", "B", 5)
    took = bus.run_until(lambda: converged(bus), within=5)
    assert took <= 1.0
    bus.routers["B"].set_mobile_addresses({"db:5432", "web:80"}, bus.now)
    bus.pump()

    a, b = bus.routers["A"], bus.routers["B"]
    assert a.neighbors() == {"B"} and b.neighbors() == {"A"}
    assert a.next_hop("B") == "B" and a.reachable_routers() == {"B": 5}
    assert b.routers_with_address("backend:8080") == {"A": 5}
    assert a.routers_with_address("db:5432") == {"B": 5}
    assert a.routers_with_address("web:80") == {"B": 5}
    assert a.routers_with_address("backend:8080") == {}  # local consumers are not remote
    # the differential MAU on the wire, as skupper-router's mobile_sync composes it
    mau = bus.sent("B", "MAU")[-1][2]
    assert mau.to == "_topo/0/all/qdrouter.ma" and mau.neighbor is None
    assert mau.message.body == {
        "id": "B",
        "pv": 2,
        "area": "0",
        "mobile_seq": 1,
        "add": [["Mdb:5432", 3, 0], ["Mweb:80", 3, 0]],
        "del": [],
    }
    ra = bus.sent("B", "RA")[-1][2]
    assert ra.to == "_topo/0/all/qdrouter"
    assert ra.message.body == {
        "id": "B",
        "pv": 1,
        "area": "0",
        "instance": 1,
        "ls_seq": 1,
        "mobile_seq": 1,
    }


def test_lsu_answers_lsr_with_the_link_state() -> None:
    bus = network("A", "B", links="AB:3")
    lsr = bus.sent("A", "LSR")[0][2]
    assert lsr == SendControl(
        "_topo/0/B/qdrouter", "B", ControlMessage("LSR", {"id": "A", "pv": 1, "area": "0"})
    )
    lsu = bus.sent("B", "LSU")[-1][2]
    assert lsu.to == "_topo/0/A/qdrouter" and lsu.neighbor == "A"
    assert lsu.message.body == {
        "id": "B",
        "pv": 1,
        "area": "0",
        "instance": 1,
        "ls_seq": 1,
        "ls": {"id": "B", "area": "0", "ls_seq": 1, "peers": {"A": 3}},
    }


def test_removed_address_is_withdrawn() -> None:
    bus = network("A", "B", links="AB")
    bus.routers["B"].set_mobile_addresses({"x", "y"}, bus.now)
    bus.pump()
    version = bus.routers["A"].topology_version
    bus.routers["B"].set_mobile_addresses({"y"}, bus.now)
    bus.pump()
    a = bus.routers["A"]
    assert a.routers_with_address("x") == {} and a.routers_with_address("y") == {"B": 1}
    assert a.topology_version > version
    assert bus.sent("B", "MAU")[-1][2].message.body["del"] == [["Mx"]]


def test_hello_and_ra_cadence_in_a_stable_network() -> None:
    bus = network("A", "B", links="AB")
    bus.advance(60)  # well out of flux
    before = len(bus.sent("A", "HELLO")), len(bus.sent("A", "RA"))
    lsrs_before = len(bus.sent("A", "LSR"))
    bus.advance(60)
    hellos, ras = len(bus.sent("A", "HELLO")) - before[0], len(bus.sent("A", "RA")) - before[1]
    assert 59 <= hellos <= 61  # every second
    assert ras == 2  # every 30 s
    assert len(bus.sent("A", "LSR")) == lsrs_before  # nothing re-requested once stable


# ---- topologies ---------------------------------------------------------------------------


def test_line_of_four_routes_hop_by_hop_and_carries_addresses_end_to_end() -> None:
    bus = network("A", "B", "C", "D", links="AB BC:2 CD")
    bus.routers["D"].set_mobile_addresses({"svc"}, bus.now)
    bus.pump()
    a, d = bus.routers["A"], bus.routers["D"]
    assert a.reachable_routers() == {"B": 1, "C": 3, "D": 4}
    assert {r: a.next_hop(r) for r in "BCD"} == {"B": "B", "C": "B", "D": "B"}
    assert {r: d.next_hop(r) for r in "ABC"} == {"A": "C", "B": "C", "C": "C"}
    assert a.routers_with_address("svc") == {"D": 4}
    assert bus.routers["B"].routers_with_address("svc") == {"D": 3}
    # multicast loop prevention: B forwards A's floods towards C and D, and D's towards A
    b = bus.routers["B"]
    assert b.valid_origins("C") == {"A"} and b.valid_origins("D") == {"A"}
    assert b.valid_origins("A") == {"C", "D"}
    assert a.valid_origins("B") == frozenset()


def test_ring_takes_the_cheaper_way_round() -> None:
    bus = network("A", "B", "C", "D", "E", links="AB BC CD DE EA")
    a = bus.routers["A"]
    assert a.reachable_routers() == {"B": 1, "C": 2, "D": 2, "E": 1}
    assert {r: a.next_hop(r) for r in "BCDE"} == {"B": "B", "C": "B", "D": "E", "E": "E"}


def test_full_mesh_of_five_uses_direct_links() -> None:
    ids = ["A", "B", "C", "D", "E"]
    bus = network(*ids, links=" ".join(x + y for i, x in enumerate(ids) for y in ids[i + 1 :]))
    for rid, router in bus.routers.items():
        others = set(ids) - {rid}
        assert router.neighbors() == others
        assert router.reachable_routers() == dict.fromkeys(others, 1)
        assert all(router.next_hop(o) == o for o in others)
    bus.routers["C"].set_mobile_addresses({"svc"}, bus.now)
    bus.pump()
    assert all(bus.routers[r].routers_with_address("svc") == {"C": 1} for r in "ABDE")


def test_diamond_routes_via_the_cheaper_middle_router() -> None:
    bus = network("A", "B", "C", "D", links="AB:5 BD:5 AC CD")
    assert bus.routers["A"].next_hop("D") == "C"
    assert bus.routers["D"].next_hop("A") == "C"
    assert bus.routers["A"].reachable_routers()["D"] == 2


@pytest.mark.parametrize("connect_order", [["AB", "BD", "AC", "CD"], ["CD", "AC", "BD", "AB"]])
def test_diamond_equal_costs_are_broken_by_router_id(connect_order: list[str]) -> None:
    bus = network("A", "B", "C", "D", links=" ".join(connect_order))
    # Both paths cost 2; the one through the lower router id wins, whatever the history.
    assert bus.routers["A"].next_hop("D") == "B"
    assert bus.routers["D"].next_hop("A") == "B"
    assert bus.routers["B"].next_hop("C") == "A"


# ---- failures -----------------------------------------------------------------------------


def test_silent_router_death_reroutes_within_hello_max_age() -> None:
    bus = network("A", "B", "C", "D", links="AB BD AC CD")
    bus.routers["B"].set_mobile_addresses({"svc"}, bus.now)
    bus.routers["C"].set_mobile_addresses({"svc"}, bus.now)
    bus.pump()
    assert bus.routers["A"].next_hop("D") == "B"
    assert bus.routers["A"].routers_with_address("svc") == {"B": 1, "C": 1}
    bus.advance(0.4)
    bus.kill("B")
    a = bus.routers["A"]
    took = bus.run_until(
        lambda: a.next_hop("D") == "C" and a.routers_with_address("svc") == {"C": 1}, within=10
    )
    # D's new link state may reach A within a path computation's holddown of A's own.
    assert took <= HELLO_MAX_AGE + SPF_HOLDDOWN + STEP
    bus.run_until(lambda: bus.routers["D"].next_hop("A") == "C", within=HELLO_MAX_AGE)
    assert "B" not in bus.routers["A"].reachable_routers()


def test_dropped_connection_reroutes_at_once_and_heals() -> None:
    bus = network("A", "B", "C", "D", links="AB BD AC CD")
    version = bus.routers["A"].topology_version
    bus.disconnect("A", "B")
    assert bus.routers["A"].next_hop("D") == "C"
    assert bus.routers["A"].next_hop("B") == "C"  # B is still reachable, the long way
    assert bus.routers["A"].reachable_routers()["B"] == 3
    assert bus.routers["A"].topology_version > version
    bus.connect("A", "B", 1)
    bus.run_until(lambda: bus.routers["A"].next_hop("D") == "B", within=2)


def test_a_path_that_appears_as_the_old_one_dies_is_found() -> None:
    """A holds D's link state from when D's only link was to B; B dies and D's link to C
    comes up at the same moment. A must reach D through C's link state alone, or it could
    never send the LSR that would fetch D's new one (found with real routers)."""
    bus = network("A", "B", "C", "D", links="AB:1 BD:1 AC:5")
    bus.routers["D"].set_mobile_addresses({"svc"}, bus.now)
    bus.pump()
    assert bus.routers["A"].link_state("D") == {"B": 1}
    bus.kill("B")  # SIGKILL: the kernel closes its connections, A and D notice at once
    bus.disconnect("A", "B")
    bus.disconnect("D", "B")
    bus.connect("D", "C", 5)
    bus.run_until(lambda: bus.routers["A"].next_hop("D") == "C", within=HELLO_MAX_AGE)
    bus.run_until(lambda: bus.routers["A"].routers_with_address("svc") == {"D": 10}, within=5)
    bus.run_until(lambda: bus.routers["D"].next_hop("A") == "C", within=HELLO_MAX_AGE)


def test_ring_link_loss_keeps_every_router_reachable() -> None:
    bus = network("A", "B", "C", "D", links="AB BC CD DA")
    bus.disconnect("A", "B")
    bus.run_until(lambda: converged(bus), within=5)
    assert bus.routers["A"].reachable_routers() == {"B": 3, "C": 2, "D": 1}
    assert bus.routers["B"].next_hop("A") == "C"


# ---- mobile address sequence rules --------------------------------------------------------


def _two_way_with_b(now: float) -> LinkStateRouter:
    """Router A with B as a two-way neighbour, driven by hand-made messages."""
    a = LinkStateRouter("A", instance=1, now=now)
    a.control_link_opened("B", 1, now)
    hello = {"id": "B", "pv": 1, "area": "0", "instance": 9, "seen": ["A"]}
    a.receive(ControlMessage("HELLO", hello), now)
    a.pending_commands()
    return a


def _mau(seq: int, **lists: list[str]) -> ControlMessage:
    body: dict[str, Any] = {"id": "B", "pv": 2, "area": "0", "mobile_seq": seq}
    for name, keys in lists.items():
        body[name.rstrip("_")] = [[k, 3, 0] for k in keys]
    return ControlMessage("MAU", body)


def test_mau_that_skips_a_sequence_number_triggers_mar_then_exist_resyncs() -> None:
    a = _two_way_with_b(START)
    a.receive(_mau(1, add=["Mx"], del_=[]), START)
    assert a.routers_with_address("x") == {"B": 1}
    assert a.pending_commands() == []

    a.receive(_mau(3, add=["My"], del_=["Mx"]), START + 1)  # 2 was lost
    assert a.routers_with_address("y") == {}  # not applied
    assert a.routers_with_address("x") == {"B": 1}
    assert a.pending_commands() == [
        SendControl(
            "_topo/0/B/qdrouter.ma",
            "B",
            ControlMessage("MAR", {"id": "A", "pv": 2, "area": "0", "have_seq": 1}),
        )
    ]
    a.receive(_mau(3, exist=["My", "Mz"]), START + 1.1)
    assert a.routers_with_address("x") == {}
    assert a.routers_with_address("y") == a.routers_with_address("z") == {"B": 1}
    a.receive(_mau(4, add=["Mw"], del_=[]), START + 2)  # differentials continue from 3
    assert a.routers_with_address("w") == {"B": 1}
    a.receive(_mau(4, add=["Mw"], del_=[]), START + 2)  # a second copy is harmless
    assert a.pending_commands() == []


def test_mar_is_answered_with_the_full_list_only_when_behind() -> None:
    a = _two_way_with_b(START)
    a.set_mobile_addresses({"svc", "api"}, START)
    a.pending_commands()
    a.receive(ControlMessage("MAR", {"id": "B", "pv": 2, "area": "0", "have_seq": 0}), START)
    assert a.pending_commands() == [
        SendControl(
            "_topo/0/B/qdrouter.ma",
            "B",
            ControlMessage(
                "MAU",
                {
                    "id": "A",
                    "pv": 2,
                    "area": "0",
                    "mobile_seq": 1,
                    "exist": [["Mapi", 3, 0], ["Msvc", 3, 0]],
                },
            ),
        )
    ]
    a.receive(ControlMessage("MAR", {"id": "B", "pv": 2, "area": "0", "have_seq": 1}), START)
    assert a.pending_commands() == []


def test_lost_mau_is_recovered_through_the_network() -> None:
    bus = network("A", "B", "C", links="AB BC")
    bus.routers["C"].set_mobile_addresses({"x"}, bus.now)
    bus.pump()
    # C's next update and its RA never reach A; the one after skips a number at A.
    bus.drop = lambda src, dst, cmd: src == "C" and dst == "A"
    bus.routers["C"].set_mobile_addresses({"x", "y"}, bus.now)
    bus.pump()
    bus.drop = lambda src, dst, cmd: False
    bus.routers["C"].set_mobile_addresses({"y", "z"}, bus.now)
    bus.pump()
    a = bus.routers["A"]
    assert [d[2].message.body["have_seq"] for d in bus.sent("A", "MAR")][-1] == 1
    assert "exist" in bus.sent("C", "MAU")[-1][2].message.body
    assert a.routers_with_address("x") == {}
    assert a.routers_with_address("y") == a.routers_with_address("z") == {"C": 2}


# ---- restart and expiry -------------------------------------------------------------------


def test_router_restart_is_noticed_and_its_old_addresses_dropped() -> None:
    bus = network("A", "B", "C", links="AB BC")
    bus.routers["C"].set_mobile_addresses({"old"}, bus.now)
    bus.pump()
    bus.advance(40)  # sequence numbers well past what a fresh router starts with
    assert bus.routers["A"].routers_with_address("old") == {"C": 2}
    # The restarted router's mobile_seq is 1 again, equal to the one A holds: only the new
    # instance tells A that its state is stale.
    bus.restart("C", instance=2, addresses={"new"})
    bus.run_until(lambda: bus.routers["A"].routers_with_address("new") == {"C": 2}, within=5)
    for rid in "AB":
        assert bus.routers[rid].routers_with_address("old") == {}
    assert bus.routers["A"].link_state("C") == {"B": 1}


def test_restart_seen_in_hello_resets_a_neighbours_state() -> None:
    a = _two_way_with_b(START)
    a.receive(_mau(1, add=["Mx"], del_=[]), START)
    hello = {"id": "B", "pv": 1, "area": "0", "instance": 10, "seen": ["A"]}
    a.receive(ControlMessage("HELLO", hello), START + 1)
    assert a.routers_with_address("x") == {}
    sent = {(c.to, c.message.opcode) for c in a.pending_commands()}
    assert {("_topo/0/B/qdrouter", "LSR"), ("_topo/0/B/qdrouter.ma", "MAR")} <= sent


def test_stale_link_state_expires() -> None:
    now = START
    a = _two_way_with_b(now)

    def feed(opcode: str, body: dict[str, Any]) -> None:
        a.receive(ControlMessage(opcode, {"pv": 1, "area": "0"} | body), now)

    def lsu(rid: str, peers: dict[str, int]) -> None:
        ls = {"id": rid, "area": "0", "ls_seq": 1, "peers": peers}
        feed("LSU", {"id": rid, "instance": 9 if rid == "B" else 5, "ls_seq": 1, "ls": ls})

    lsu("B", {"A": 1, "C": 1})
    lsu("C", {"B": 1, "D": 1})
    lsu("D", {"C": 1})
    a.handle_timer(now + SPF_HOLDDOWN)  # the link states came at once: one path computation
    assert a.reachable_routers() == {"B": 1, "C": 2, "D": 3}
    # B stays alive; C and D fall silent (no RA, no LSU) from here on.
    for _ in range(round(130 / 0.5)):
        now += 0.5
        if now % 1 == 0:
            feed("HELLO", {"id": "B", "instance": 9, "seen": ["A"]})
        if now % 30 == 0:
            feed("RA", {"id": "B", "instance": 9, "ls_seq": 1, "mobile_seq": 0})
        if (timer := a.get_timer()) is not None and timer <= now:
            a.handle_timer(now)
        a.pending_commands()
        if now == START + 59.5:
            assert a.link_state("D") == {"C": 1}
            assert a.reachable_routers() == {"B": 1, "C": 2, "D": 3}
        if now == START + 60.5:
            assert a.link_state("C") is None and a.link_state("D") is None
            # C is still named by B's link state: reachable, so that we can ask it again.
            assert a.reachable_routers() == {"B": 1, "C": 2}
    assert a.neighbors() == {"B"}


# ---- malformed and foreign messages -------------------------------------------------------


def test_malformed_bodies_raise_and_change_nothing() -> None:
    a = _two_way_with_b(START)
    version = a.topology_version
    with pytest.raises(RemoteProtocolError):
        a.receive(ControlMessage("RA", {"id": "B", "pv": 1, "ls_seq": "1"}), START)
    with pytest.raises(RemoteProtocolError):
        a.receive(ControlMessage("HELLO", {"pv": 1, "seen": []}), START)
    with pytest.raises(RemoteProtocolError):
        a.receive(_mau(1, add=["Mx"]), START)  # add without del
    with pytest.raises(RemoteProtocolError):
        a.receive(_mau(1, exist=["Mx"], add=["My"], del_=[]), START)
    assert a.topology_version == version and a.routers_with_address("x") == {}


def test_newer_protocol_versions_and_own_messages_are_ignored() -> None:
    a = _two_way_with_b(START)
    a.receive(ControlMessage("RA", {"id": "B", "pv": 2, "ls_seq": 9, "mobile_seq": 9}), START)
    a.receive(ControlMessage("RA", {"id": "A", "pv": 1, "ls_seq": 9, "mobile_seq": 9}), START)
    a.receive(ControlMessage("XYZ", {"id": "B", "pv": 1}), START)
    assert a.pending_commands() == []


def test_mobile_address_encoding_round_trips() -> None:
    assert wire.encode_mobile_address("tcp/backend:8080") == "Mtcp/backend:8080"
    assert wire.decode_mobile_address("Mtcp/backend:8080") == "tcp/backend:8080"
    assert wire.decode_mobile_address("Hedge-1") is None
    assert wire.decode_address_descriptor(["Mx", 3, 0]) == "Mx"
    assert wire.decode_address_descriptor("Mx") == "Mx"


def test_a_burst_of_link_states_costs_one_path_computation() -> None:
    now = START
    a = _two_way_with_b(now)
    now += 1.0
    a.handle_timer(now)  # the HELLO tick, out of the way

    def lsu(rid: str, peers: dict[str, int]) -> None:
        ls = {"id": rid, "area": "0", "ls_seq": 1, "peers": peers}
        body = {"id": rid, "pv": 1, "area": "0", "instance": 5, "ls_seq": 1, "ls": ls}
        a.receive(ControlMessage("LSU", body), now)

    lsu("B", {"A": 1, "C": 1})  # the first computes at once
    assert a.reachable_routers() == {"B": 1, "C": 2}
    version = a.topology_version
    chain = [f"R{i:02d}" for i in range(20)]
    for prev, rid, following in zip(["C", *chain], chain, [*chain[1:], None], strict=False):
        lsu(rid, {prev: 1} | ({following: 1} if following else {}))
    lsu("C", {"B": 1, "R00": 1})
    assert a.reachable_routers() == {"B": 1, "C": 2}
    assert a.get_timer() == now + SPF_HOLDDOWN
    a.handle_timer(now + SPF_HOLDDOWN)
    assert len(a.reachable_routers()) == 2 + len(chain)
    assert a.topology_version == version + 1  # the burst's computation, once


def test_an_lsr_lost_on_the_way_is_asked_again_after_a_hello_interval() -> None:
    now = START
    a = _two_way_with_b(now)
    ls = {"id": "B", "area": "0", "ls_seq": 1, "peers": {"A": 1}}
    a.receive(ControlMessage("LSU", {"id": "B", "pv": 1, "instance": 9, "ls": ls}), now)
    a.pending_commands()
    ra = {"id": "B", "pv": 1, "area": "0", "instance": 9, "ls_seq": 2, "mobile_seq": 0}
    for nth in range(3):  # one flood's copies from several neighbours
        a.receive(ControlMessage("RA", dict(ra)), now + 0.01 * nth)
    lsrs = [c for c in a.pending_commands() if c.message.opcode == "LSR"]
    assert len(lsrs) == 1
    a.handle_timer(now + 1.0)  # a HELLO tick: not a full interval since the LSR
    assert not [c for c in a.pending_commands() if c.message.opcode == "LSR"]
    a.handle_timer(now + 2.0)  # no LSU came: it was lost
    assert [c.to for c in a.pending_commands() if c.message.opcode == "LSR"] == [
        "_topo/0/B/qdrouter"
    ]
