"""What a router knows of the others (``router/known_routers.py``): records, their expiry,
and the routes computed from their link states."""

from __future__ import annotations

from skupper_podman.router.known_routers import KnownRouters


def _chain() -> KnownRouters:
    """a - b - c as a sees it: b and c have told their link states."""
    known = KnownRouters()
    for router_id, peers in (("b", {"a": 1, "c": 2}), ("c", {"b": 2})):
        known.learn(router_id, 0.0, 7).peers = peers
    known.compute_routes("a", {"b": 1})
    return known


def test_routes_come_from_the_link_states_and_bump_the_version() -> None:
    known = _chain()
    assert known.next_hops == {"b": "b", "c": "b"}
    assert known.costs == {"b": 1, "c": 3}
    assert not known.stale and known.version == 1
    known.compute_routes("a", {"b": 1})
    assert known.version == 1  # nothing changed


def test_a_restart_forgets_what_the_router_said_before() -> None:
    known = _chain()
    node = known.records["c"]
    known.set_keys(node, {"Mdb"})
    assert known.with_key("Mdb") == {"c": 3} and known.reachable_keys() == {"Mdb"}
    assert known.learn("c", 1.0, 8) is node  # a new instance: its sequences began again
    assert node.peers is None and node.keys == set() and node.need_lsr and node.need_mar
    assert known.stale


def test_stale_link_states_leave_and_unnamed_records_go() -> None:
    known = _chain()
    known.expire(59.0, 60.0, {"b"})
    assert known.records["c"].peers is not None  # not yet
    known.expire(60.0, 60.0, {"b"})
    assert known.records["b"].peers is None and known.records["c"].peers is None
    known.expire(60.0, 60.0, {"b"})  # c is named by nobody now; b is our neighbour
    assert set(known.records) == {"b"}
