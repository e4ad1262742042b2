"""HTTP observation without sockets: the bytes of real HTTP/1.x exchanges and, for HTTP/2,
of the ``h2`` library's client and server talking, fed to the observer each way in every
split; what it makes is read from the real records and metrics it feeds."""

from __future__ import annotations

import random
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from skupper_podman.router.http_classify import SERVER_HOLD_MAX, observer
from skupper_podman.router.http_exchanges import HttpExchanges
from skupper_podman.router.http_observer import Observer
from skupper_podman.router.service_metrics import HttpMetrics
from skupper_podman.router.vanflow import RecordType
from skupper_podman.router.vanflow_records import VanflowRecords


class Observed:
    """An observer over the real records and metrics, with a clock the test moves."""

    def __init__(self, kind: str = "auto", epoch: float = 0.0) -> None:
        self.now = 100.0
        self.records = VanflowRecords("abcde", now=self.now, epoch=epoch)
        self.flow = self.records.start(RecordType.BIFLOW_TPORT, self.now)
        self.records.due(self.now + 1, lambda address: True)  # a collector listens
        self.metrics = HttpMetrics()
        exchanges = HttpExchanges(self.records, self.flow, self.metrics, "web", lambda: self.now)
        self.observer: Observer | None = observer(kind, exchanges)
        assert self.observer is not None

    @property
    def going(self) -> bool:
        return self.observer is not None

    def send(self, from_client: bool, data: bytes, split: int = 0) -> None:
        """``data`` one way, in pieces of ``split`` bytes (0: whole)."""
        step = split or max(1, len(data))
        for i in range(0, len(data), step):
            if self.observer is not None:
                self.observer = self.observer.data(from_client, data[i : i + step])

    def end(self) -> None:
        assert self.observer is not None
        self.observer.end()

    def requests(self) -> list[dict[str, Any]]:
        found = [r for r in self.records.records.values() if r.type is RecordType.BIFLOW_APP]
        assert all(r.get("parent") == self.flow.identity for r in found)  # type: ignore[union-attr]
        return [
            {name: r.get(name) for name in ("protocol", "method", "result", "octets",
                                            "octetsReverse", "streamId", "sourceHost")}
            | {"ended": r.ended, "latency": r.get("latency")}
            for r in found
        ]  # fmt: skip


GET = b"GET /a HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.1.2.3, 10.0.0.1\r\n\r\n"
OK_5 = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
POST_CHUNKED = (
    b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\nwiki\r\n6;ext=1\r\npedia \r\n0\r\nTrailer: t\r\n\r\n"
)
CREATED_CHUNKED = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"


@pytest.mark.parametrize("split", [0, 1, 7])
def test_http1_requests_on_one_connection_each_make_a_record(split: int) -> None:
    seen = Observed()
    seen.send(True, GET, split)
    seen.now += 0.25
    seen.send(False, OK_5, split)
    seen.send(True, POST_CHUNKED, split)
    seen.send(False, CREATED_CHUNKED, split)
    assert seen.going
    first, second = seen.requests()
    assert first == {
        "protocol": "HTTP/1.1", "method": "GET", "result": "200", "octets": 0,
        "octetsReverse": 5, "streamId": None, "sourceHost": "10.1.2.3", "ended": True,
        "latency": 250_000,
    }  # fmt: skip
    assert second["method"] == "POST" and second["result"] == "201"
    assert (second["octets"], second["octetsReverse"], second["ended"]) == (10, 3, True)
    assert seen.metrics.requests == {("web", "GET", "2xx"): 1, ("web", "POST", "2xx"): 1}
    assert seen.metrics.octets == {("web", "request"): 10, ("web", "response"): 8}
    assert seen.metrics.latency["web"].cumulative()[-1][1] == 2


def test_a_request_s_start_plus_its_latency_never_passes_its_end() -> None:
    """With a real epoch, timestamps fall between microseconds: rounded apart, the start
    plus the latency passed the end by one in about 1 request of 400."""
    seen = Observed(epoch=1_796_595_700.0)
    steps = random.Random(7)
    for _ in range(2000):
        seen.now += steps.uniform(0.0, 0.01)
        seen.send(True, GET)
        seen.now += steps.uniform(0.0, 0.01)
        seen.send(False, OK_5)
    found = [r for r in seen.records.records.values() if r.type is RecordType.BIFLOW_APP]
    assert len(found) == 2000
    for record in found:
        start, latency, end = (record.get(name) for name in ("startTime", "latency", "endTime"))
        assert start + latency <= end, (start, latency, end)


def test_pipelined_head_and_get_and_an_interim_response() -> None:
    """A HEAD's response has a length but no body; a 100 Continue is not the answer."""
    seen = Observed("http1")
    put = b"PUT /c HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    seen.send(True, b"HEAD /h HTTP/1.1\r\n\r\n" + GET + put)
    seen.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + OK_5)
    seen.send(False, b"HTTP/1.1 100 Continue\r\n\r\n")
    seen.send(True, b"abc")
    seen.send(False, b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno")
    head, get, put_record = seen.requests()
    assert (head["method"], head["result"], head["octetsReverse"], head["ended"]) == (
        "HEAD", "200", 0, True)  # fmt: skip
    assert (get["result"], get["octetsReverse"], get["ended"]) == ("200", 5, True)
    assert put_record["protocol"] == "HTTP/1.0"
    assert (put_record["result"], put_record["octets"], put_record["ended"]) == ("404", 3, True)
    assert seen.metrics.requests[("web", "PUT", "4xx")] == 1


def test_a_response_until_close_and_an_unanswered_request_end_with_the_flow() -> None:
    seen = Observed()
    seen.send(True, GET)
    seen.send(False, b"HTTP/1.0 200 OK\r\n\r\nstreamed until close")
    seen.send(True, GET)
    assert [r["ended"] for r in seen.requests()] == [False, False]
    seen.end()
    first, second = seen.requests()
    assert (first["octetsReverse"], first["ended"]) == (20, True)
    assert (second["result"], second["ended"]) == (None, True)
    assert seen.metrics.requests == {("web", "GET", "2xx"): 1, ("web", "GET", "none"): 1}


@pytest.mark.parametrize("split", [0, 1])
def test_a_response_before_the_request_body_ends_its_record_when_the_body_does(
    split: int,
) -> None:
    """A server may answer (413, say) while the client still sends its body."""
    seen = Observed()
    seen.send(True, b"POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", split)
    seen.send(False, b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig!", split)
    (early,) = seen.requests()
    assert (early["result"], early["ended"]) == ("413", False)
    assert seen.metrics.requests == {}  # counted once both messages are complete
    seen.send(True, b"defghij", split)
    (done,) = seen.requests()
    assert (done["octets"], done["octetsReverse"], done["ended"]) == (10, 4, True)
    assert seen.metrics.requests == {("web", "POST", "4xx"): 1}
    assert seen.going


@pytest.mark.parametrize(
    "first_bytes",
    [
        b"*1\r\n$4\r\nPING\r\n",  # redis
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS client hello
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"\x00" * 64,
        b"GET / SPDY/3\r\n\r\n",
        b"A" * 40,  # no method is that long
    ],
)
def test_what_is_not_http_is_let_go_at_its_first_bytes(first_bytes: bytes) -> None:
    seen = Observed()
    seen.send(True, first_bytes)
    assert not seen.going
    assert seen.requests() == [] and seen.metrics.requests == {}


def test_a_server_that_speaks_first_is_let_go_after_a_bounded_hold() -> None:
    seen = Observed()
    seen.send(False, b"220 smtp.example ESMTP\r\n")
    assert seen.going  # held: the client has said nothing yet
    seen.send(False, b"x" * SERVER_HOLD_MAX)
    assert not seen.going


def test_an_upgrade_leaves_the_rest_alone() -> None:
    seen = Observed()
    seen.send(True, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    seen.send(False, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05")
    assert not seen.going
    (upgrade,) = seen.requests()
    assert (upgrade["result"], upgrade["ended"]) == ("101", True)


@pytest.mark.parametrize("split", [0, 1])
def test_heads_seen_before_read_the_same_and_a_bad_length_ends_observation(split: int) -> None:
    for _ in range(2):  # the second flow's heads are known already (parsed heads are kept)
        seen = Observed()
        seen.send(True, GET + GET, split)
        seen.send(False, OK_5 + OK_5, split)
        assert [(r["result"], r["octetsReverse"], r["ended"]) for r in seen.requests()] == [
            ("200", 5, True), ("200", 5, True)]  # fmt: skip
    seen.send(True, b"POST /d HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc", split)
    assert not seen.going
    seen = Observed()
    seen.send(True, GET, split)
    seen.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", split)
    assert not seen.going
    assert [r["ended"] for r in seen.requests()] == [True]


def test_without_a_collector_requests_are_counted_but_make_no_record() -> None:
    seen = Observed()
    seen.records.due(seen.now + 2, lambda address: False)  # the collector went away
    seen.send(True, GET)
    seen.send(False, OK_5)
    assert seen.requests() == []
    assert seen.metrics.requests == {("web", "GET", "2xx"): 1}


def test_observer_none_observes_nothing() -> None:
    records = VanflowRecords("abcde", now=0.0, epoch=0.0)
    exchanges = HttpExchanges(records, None, HttpMetrics(), "web", lambda: 0.0)
    assert observer("none", exchanges) is None


# --- HTTP/2, as the h2 library speaks it ---------------------------------------------------


def h2_pair() -> tuple[h2.connection.H2Connection, h2.connection.H2Connection]:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    )
    client.initiate_connection()
    server.initiate_connection()
    return client, server


def exchange_h2(seen: Observed, client: Any, server: Any, split: int) -> list[Any]:
    """Move bytes between client and server (and past the observer) until both are quiet;
    the server answers each request: 200 with 'x' times the request's body size, or 404."""
    events: list[Any] = []
    bodies: dict[int, int] = {}
    while True:
        to_server, to_client = client.data_to_send(), server.data_to_send()
        if not to_server and not to_client:
            return events
        seen.send(True, to_server, split)
        seen.send(False, to_client, split)
        client.receive_data(to_client)
        for event in server.receive_data(to_server):
            events.append(event)
            if isinstance(event, h2.events.DataReceived):
                bodies[event.stream_id] = bodies.get(event.stream_id, 0) + len(event.data)
                server.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if isinstance(event, h2.events.StreamEnded):
                size = bodies.get(event.stream_id, 0)
                status = "200" if size else "404"
                server.send_headers(event.stream_id, [(":status", status)])
                server.send_data(event.stream_id, b"x" * (size * 2), end_stream=True)


@pytest.mark.parametrize("split", [0, 1, 13])
def test_http2_streams_each_make_a_record(split: int) -> None:
    seen = Observed()
    client, server = h2_pair()
    # the server lets the client's encoder use a larger table: the observer must follow
    server.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 65536})
    exchange_h2(seen, client, server, split)
    for n in range(3):  # the same headers again: hpack's dynamic table is used
        stream = client.get_next_available_stream_id()
        headers = [(":method", "POST"), (":path", f"/{n}"), (":scheme", "http"),
                   (":authority", "x"), ("x-forwarded-for", "192.0.2.9"),
                   ("x-custom-header", "a value long enough to be indexed")]  # fmt: skip
        client.send_headers(stream, headers)
        client.send_data(stream, b"q" * (100 * n), end_stream=True)
    exchange_h2(seen, client, server, split)
    assert seen.going
    records = sorted(seen.requests(), key=lambda r: r["streamId"])
    assert [(r["streamId"], r["method"], r["result"], r["octets"], r["octetsReverse"])
            for r in records] == [(1, "POST", "404", 0, 0), (3, "POST", "200", 100, 200),
                                  (5, "POST", "200", 200, 400)]  # fmt: skip
    assert all(r["protocol"] == "HTTP/2" and r["ended"] for r in records)
    assert all(r["sourceHost"] == "192.0.2.9" for r in records)
    assert seen.metrics.requests == {("web", "POST", "4xx"): 1, ("web", "POST", "2xx"): 2}


def test_a_reset_stream_ends_its_record_and_the_connection_goes_on() -> None:
    seen = Observed("http2")
    client, server = h2_pair()
    get = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
    client.send_headers(1, get)
    client.reset_stream(1)
    client.send_headers(3, get, end_stream=True)
    exchange_h2(seen, client, server, 0)
    assert seen.going
    reset, answered = sorted(seen.requests(), key=lambda r: r["streamId"])
    assert (reset["result"], reset["ended"]) == (None, True)
    assert (answered["result"], answered["ended"]) == ("404", True)


def test_http1_bytes_are_not_taken_for_http2() -> None:
    seen = Observed("http2")
    seen.send(True, GET)
    assert not seen.going
