"""The budget of a connection to a skupper-router (``router/send_budget.py``), and streams
that wait for it (``router/streams.py``), without sockets: bytes over the budget wait and go
in order, oldest stream first, as acknowledgements come or as counted bytes age; none is
lost, and no stream waits for ever."""

from __future__ import annotations

from types import SimpleNamespace

from skupper_podman.router.outbound_streams import holds, next_release, release_held
from skupper_podman.router.send_budget import LIMIT, PERIOD, SendBudget
from skupper_podman.router.streams import RECEIVED, OutboundStream, StreamStart
from tests.router.stream_fakes import RecordingLink, outbound_stream

CHUNK = 64 * 1024


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stream(link: RecordingLink, budget: SendBudget) -> OutboundStream:
    stream = outbound_stream(link, StreamStart.SETTLED, budget)
    stream.held = None  # started: its receiver (a skupper-router) has taken it
    return stream


def _ack(stream: OutboundStream, offset: int) -> None:
    stream.delivery.remote_state = RECEIVED  # type: ignore[misc]
    stream.delivery.remote_section_offset = offset  # type: ignore[misc]
    stream.on_update()


def _body(link: RecordingLink) -> bytes:
    return b"".join(link.sent[1:])


def test_bytes_over_the_budget_wait_and_go_in_order_as_acknowledgements_come() -> None:
    budget = SendBudget(_Clock())
    first, second = RecordingLink(), RecordingLink()
    a, b = _stream(first, budget), _stream(second, budget)
    for _ in range(LIMIT // CHUNK):
        a.write(b"a" * CHUNK)
    assert budget.counted == LIMIT and not budget.waiting
    a.write(b"x" * 10)
    b.write(b"b" * 10)  # another stream waits too, behind the first
    a.write(b"y" * 10)
    assert list(budget.waiting) == [a, b]
    assert len(_body(first)) == LIMIT and _body(second) == b""
    _ack(a, 512 * 1024)
    assert _body(first) == b"a" * LIMIT + b"x" * 10 + b"y" * 10
    assert _body(second) == b"b" * 10
    assert not budget.waiting and budget.unacked == LIMIT - 512 * 1024 + 30


def test_a_stream_that_ends_while_waiting_sends_its_end_after_its_bytes() -> None:
    budget = SendBudget(_Clock())
    link = RecordingLink()
    stream = _stream(link, budget)
    stream.write(b"a" * LIMIT)
    stream.write(b"b" * 100)
    stream.finish()
    assert link.advanced == 0
    _ack(stream, LIMIT)
    assert _body(link) == b"a" * LIMIT + b"b" * 100 and link.advanced == 1


def test_an_ended_stream_gives_back_what_it_counted_and_waits_no_more() -> None:
    budget = SendBudget(_Clock())
    first, second = RecordingLink(), RecordingLink()
    a, b = _stream(first, budget), _stream(second, budget)
    a.write(b"a" * LIMIT)
    b.write(b"b" * 100)
    a.write(b"c" * 100)
    a.abort()  # its client went away: what it sent is no longer waited for
    assert budget.unacked == 100 and list(budget.waiting) == []
    assert _body(second) == b"b" * 100
    assert b"c" not in _body(first)


def test_quiet_streams_unacknowledged_bytes_age_out_of_the_budget() -> None:
    """Keep-alive flows keep up to an acknowledgement step unacknowledged while quiet:
    once two periods pass with nothing sent, those bytes no longer hold anyone back."""
    clock = _Clock()
    budget = SendBudget(clock)
    quiet = [_stream(RecordingLink(), budget) for _ in range(10)]
    for stream in quiet:
        stream.write(b"q" * (LIMIT // 10))  # under the 512 KiB a skupper-router acks at
    link = RecordingLink()
    late = _stream(link, budget)
    late.write(b"r" * 100)
    assert budget.waiting and _body(link) == b""
    deadline = budget.next_release()
    assert deadline is not None and deadline <= clock.now + PERIOD
    clock.now = deadline
    budget.release()
    assert budget.waiting  # a period on: the bytes were sent in the period before
    clock.now += PERIOD
    budget.release()
    assert _body(link) == b"r" * 100
    assert budget.unacked == LIMIT + 100  # still unacknowledged, but no longer counted
    late.write(b"s" * 100)  # and the next request goes at once
    assert _body(link) == b"r" * 100 + b"s" * 100


def test_a_lone_stream_is_never_held_by_its_own_window() -> None:
    budget = SendBudget(_Clock())
    link = RecordingLink()
    stream = _stream(link, budget)
    stream.write(b"a" * (LIMIT + CHUNK))  # one write larger than the budget still goes
    assert len(_body(link)) == LIMIT + CHUNK and not budget.waiting


def test_the_core_keeps_a_deadline_for_waiting_streams_and_lets_them_go_at_it() -> None:
    """What the core's timer asks of a connection (``outbound_streams``): whether it holds
    anything, when, and what goes at that time."""
    clock = _Clock()
    budget = SendBudget(clock)
    conn = SimpleNamespace(held_streams={}, send_budget=budget)
    stream = _stream(RecordingLink(), budget)
    stream.write(b"a" * LIMIT)
    assert not holds(conn) and next_release(conn) is None  # type: ignore[arg-type]
    link = RecordingLink()
    _stream(link, budget).write(b"b" * 10)
    assert holds(conn)  # type: ignore[arg-type]
    deadline = next_release(conn)  # type: ignore[arg-type]
    assert deadline is not None
    clock.now = deadline + PERIOD  # no acknowledgement came; the counted bytes aged
    release_held(conn, clock.now)  # type: ignore[arg-type]
    assert _body(link) == b"b" * 10 and not holds(conn)  # type: ignore[arg-type]
