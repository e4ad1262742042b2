"""One observed request (``router/http_exchanges.py``): it finishes once both messages are
complete, in either order, and counts once in its service's figures however it ends."""

from __future__ import annotations

import random

import pytest

from skupper_podman.router.http_exchanges import HttpExchanges
from skupper_podman.router.service_metrics import HttpMetrics
from skupper_podman.router.vanflow_records import VanflowRecords, new_source_id


def _exchanges() -> tuple[HttpExchanges, HttpMetrics]:
    records = VanflowRecords(new_source_id(random.Random(1)), now=0.0, epoch=0.0)
    metrics = HttpMetrics()
    return HttpExchanges(records, None, metrics, "web", lambda: 5.0), metrics


@pytest.mark.parametrize("first", [True, False], ids=["request first", "response first"])
def test_an_exchange_finishes_when_both_messages_are_complete(first: bool) -> None:
    exchanges, metrics = _exchanges()
    exchange = exchanges.request("HTTP/1.1", "POST", 0, "")
    exchange.answered(413, "Content Too Large")  # a server may answer before the body ends
    assert exchange.message_done(first) is False
    assert not exchange.done and metrics.requests == {}
    assert exchange.message_done(not first) is True
    assert exchange.done
    exchange.finished()  # the flow's end comes later: counted once
    assert metrics.requests == {("web", "POST", "4xx"): 1}


def test_a_whole_response_finishes_a_complete_request_at_once() -> None:
    exchanges, metrics = _exchanges()
    exchange = exchanges.request("HTTP/1.1", "GET", 0, "")
    exchange.message_done(True)
    exchange.whole_response(200, "OK", 2)
    assert exchange.done
    assert metrics.requests == {("web", "GET", "2xx"): 1}
    assert metrics.octets == {("web", "request"): 0, ("web", "response"): 2}
