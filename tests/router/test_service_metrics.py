import random

from skupper_podman.router.service_metrics import BUCKETS, Histogram, HttpMetrics

Ended = tuple[str, int, float | None, int, int]  # method, status, latency, octets each way


def _exchanges(count: int) -> list[Ended]:
    rng = random.Random(7)
    methods = ("GET", "POST", "HEAD", "BREW", "PROPFIND")
    statuses = (200, 204, 301, 404, 503, 0)  # 0: unanswered
    return [
        (
            rng.choice(methods),
            rng.choice(statuses),
            None if rng.random() < 0.1 else rng.choice((*BUCKETS, 20.0)) * rng.random() * 2,
            rng.randrange(0, 5000),
            rng.randrange(0, 50000),
        )
        for _ in range(count)
    ]


def test_ended_exchanges_are_counted_by_method_status_class_bytes_and_latency() -> None:
    metrics = HttpMetrics()
    service = metrics.service("web")
    ended = _exchanges(2000)
    expected_requests: dict[tuple[str, str, str], int] = {}
    expected_latency = Histogram()
    for at, exchange in enumerate(ended, 1):
        service.exchange_ended(*exchange)
        method, status, latency, _, _ = exchange
        label = method if method in ("GET", "POST", "HEAD") else "other"
        key = ("web", label, f"{status // 100}xx" if status else "none")
        expected_requests[key] = expected_requests.get(key, 0) + 1
        if latency is not None:
            expected_latency.observe(latency)
        if at in (1, 500, 2000):  # read mid-way and at the end
            assert metrics.requests == expected_requests
            assert metrics.latency["web"].counts == expected_latency.counts
            assert abs(metrics.latency["web"].total - expected_latency.total) < 1e-6
            octets = metrics.octets
            assert octets[("web", "request")] == sum(e[3] for e in ended[:at])
            assert octets[("web", "response")] == sum(e[4] for e in ended[:at])
    assert ("web", "other", "5xx") in metrics.requests
    assert ("web", "GET", "none") in metrics.requests


def test_a_latency_on_a_bucket_bound_counts_in_that_bucket() -> None:
    histogram = Histogram()
    for seconds in (0.005, 0.0051, 0.0001, 60.0):
        histogram.observe(seconds)
    cumulative = dict(histogram.cumulative())
    assert (cumulative["0.001"], cumulative["0.0025"], cumulative["0.005"]) == (1, 1, 2)
    assert (cumulative["0.01"], cumulative["10.0"], cumulative["+Inf"]) == (3, 3, 4)
    assert abs(histogram.total - 60.0102) < 1e-9
