"""Deliveries held without the binding's wrapper (``router/proton_deliveries.py``), between
two real proton engines joined in memory: what a handle sets reaches the peer, its
attributes are the binding's, and nothing stays once both ends are done."""

from __future__ import annotations

import gc

import cproton
from proton import Delivery, Disposition, Endpoint, Link

from skupper_podman.router.engine import AmqpEngine
from skupper_podman.router.proton_deliveries import DeliveryHandle


class Pair:
    """A client and a server engine, a sender link on the client and its receiver."""

    def __init__(self) -> None:
        self.client = AmqpEngine(server=False, ssl_domain=None, sasl_mechanisms="")
        self.server = AmqpEngine(server=True, ssl_domain=None, sasl_mechanisms="")
        self.client.connection.open()
        opened = self.client.connection.session()
        opened.open()
        self.sender = opened.sender("out")
        self.sender.target.address = "somewhere"
        self.sender.open()
        self.pump()
        self.server.connection.open()
        remote = Endpoint.LOCAL_UNINIT | Endpoint.REMOTE_ACTIVE
        session = self.server.connection.session_head(remote)
        assert session is not None
        session.open()
        receiver = self.server.connection.link_head(remote)
        assert receiver is not None and receiver.is_receiver
        receiver.target.copy(receiver.remote_target)
        receiver.open()
        receiver.flow(10)
        self.receiver: Link = receiver
        self.pump()
        assert self.sender.credit == 10

    def pump(self) -> None:
        for _ in range(100):
            moved = False
            for source, target in ((self.client, self.server), (self.server, self.client)):
                output = source.take_output()
                if output:
                    target.push(output)
                    moved = True
            if not moved:
                for engine in (self.client, self.server):
                    for _ in engine.events(frozenset()):  # the router reads every event:
                        pass  # an event left in the collector keeps its delivery
                return
        raise AssertionError("the engines never went quiet")

    def send(self, tag: str, data: bytes) -> DeliveryHandle:
        handle = DeliveryHandle.new(self.sender, tag)
        self.sender.send(data)
        self.sender.advance()
        self.pump()
        return handle

    def arrived(self) -> DeliveryHandle:
        current = self.receiver.current
        assert current is not None
        return DeliveryHandle(current._impl)


def test_what_the_receiver_s_handle_says_reaches_the_sender_s() -> None:
    pair = Pair()
    sent = pair.send("t-1", b"hello")
    received = pair.arrived()
    assert pair.receiver.recv(5) == b"hello"
    received.received(3)
    pair.pump()
    assert sent.remote_state == Disposition.RECEIVED and sent.remote_section_offset == 3
    assert not sent.settled
    received.undeliverable_here()
    received.settle()
    pair.pump()
    assert sent.remote_state == Disposition.MODIFIED
    assert sent.remote_undeliverable and sent.settled


def test_an_outcome_and_an_abort_as_the_binding_s_calls_give_them() -> None:
    pair = Pair()
    sent = pair.send("t-1", b"one")
    received = pair.arrived()
    pair.receiver.advance()
    received.update(Disposition.ACCEPTED)
    received.settle()
    pair.pump()
    assert (sent.remote_state, sent.remote_undeliverable) == (Disposition.ACCEPTED, False)
    aborted = DeliveryHandle.new(pair.sender, "t-2")
    pair.sender.send(b"part")
    pair.pump()  # the receiver has its first part: the abort ends it there
    aborted.abort()
    pair.pump()
    current = pair.receiver.current
    assert current is not None and current.aborted


def test_a_handle_s_attributes_are_the_binding_wrapper_s() -> None:
    pair = Pair()
    handle = DeliveryHandle.new(pair.sender, "t-1")
    handle.attributes["stream"] = "mine"
    current = pair.sender.current
    assert isinstance(current, Delivery) and current.stream == "mine"
    assert DeliveryHandle(current._impl).attributes is handle.attributes


def test_nothing_stays_once_both_ends_settled_and_let_go() -> None:
    pair = Pair()
    gc.collect()
    before = cproton.retained_count()
    for round_number in range(5):
        pair.receiver.flow(200)
        pair.pump()
        for index in range(200):
            sent = pair.send(f"{round_number}-{index}", b"x")
            sent.attributes["stream"] = "held"
            received = pair.arrived()
            received.attributes["stream"] = "held"
            pair.receiver.recv(1)
            pair.receiver.advance()
            received.update(Disposition.ACCEPTED)
            received.settle()
            pair.pump()
            sent.settle()
            del sent, received
    gc.collect()
    assert cproton.retained_count() - before < 20  # 1,000 deliveries: none kept
