"""TCP flows through chains of our routers and skupper-router in every position.

Every chain of ``CHAINS`` mixes the two; ``CONTROLS`` are the same shapes with one kind
only, run in the same tests: a mixed chain must behave as both do.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import socket
import socketserver
import time

import pytest

from tests.router.peers import Backend, EchoHandler, StreamHandler, echo_once, stream_through
from tests.routernet import RouterNet

from .chains import CHAINS, CONTROLS, build

MIB = 1024 * 1024


# skupper-router's own faults, not ours: the first 1 MiB reply from a skupper-router
# interior stalls after 224,088 bytes, or loses bytes, in about 1 run of 15-25: behind
# ours:edge-sk-sk and in chains of skupper-routers only (sk:edge-sk-sk lost 16,383 of
# 1,048,576 bytes in 2 of 25; sk-sk-sk stalled in a CI run, sk:edge-sk-sk:edge lost 24,564
# bytes in another; docs/skupper-router-interop.md). Those chains still run every time;
# their failures are reported as such, not hidden. Every other chain with one of our
# routers in it must pass.
REFERENCE_FAULT = pytest.mark.xfail(
    reason="skupper-router stalls/loses the first 1 MiB reply from its interior", strict=False
)
REFERENCE_FAULT_CHAINS = ("ours:edge-sk-sk", "sk-sk-sk", "sk:edge-sk-sk:edge")
FLOW_CHAINS = [
    pytest.param(spec, marks=REFERENCE_FAULT) if spec in REFERENCE_FAULT_CHAINS else spec
    for spec in CHAINS + CONTROLS
]


@pytest.mark.parametrize("spec", FLOW_CHAINS)
def test_flows_cross_the_chain_intact_both_ways(net: RouterNet, spec: str) -> None:
    backend = Backend(StreamHandler, send_size=MIB)
    chain = build(net, spec, backend)
    for _ in range(3):  # the first flow opens links; the next ones reuse them
        result = stream_through(chain.port, MIB, timeout=30)
        assert result.received == MIB
        assert backend.has_result((result.sent_sha, result.received_sha))
    chain.close()


class ReplyAfterEof(socketserver.BaseRequestHandler):
    """Read until the client half-closes, then answer: the digest of what came, 256 KiB
    more, and a FIN. Only a FIN carried across the network lets it answer at all."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        digest = hashlib.sha256()
        while data := sock.recv(1 << 16):
            digest.update(data)
        sock.sendall(digest.hexdigest().encode() + b"\n" + b"z" * (256 * 1024))
        sock.shutdown(socket.SHUT_WR)


@pytest.mark.parametrize("spec", ["sk-ours-sk", "ours-sk-ours", "sk:edge-ours-sk:edge", *CONTROLS])
def test_half_close_crosses_and_the_other_direction_goes_on(net: RouterNet, spec: str) -> None:
    chain = build(net, spec, Backend(ReplyAfterEof))
    request = bytes(range(256)) * 4096  # 1 MiB
    with socket.create_connection(("127.0.0.1", chain.port), timeout=20) as client:
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        reply = b""
        while data := client.recv(1 << 16):
            reply += data
    head, _, rest = reply.partition(b"\n")
    assert head.decode() == hashlib.sha256(request).hexdigest()
    assert rest == b"z" * (256 * 1024)
    chain.close()


@pytest.mark.parametrize("spec", ["sk-ours-sk", "ours-sk-ours", "ours:edge-sk-ours:edge"])
def test_64_mib_each_way(net: RouterNet, spec: str) -> None:
    backend = Backend(StreamHandler, send_size=64 * MIB)
    chain = build(net, spec, backend)
    start = time.monotonic()
    result = stream_through(chain.port, 64 * MIB, timeout=120)
    seconds = time.monotonic() - start
    assert result.received == 64 * MIB
    assert backend.has_result((result.sent_sha, result.received_sha))
    print(f"{spec}: 64 MiB each way in {seconds:.2f} s ({2 * 64 / seconds:.0f} MiB/s)")
    chain.close()


FLOWS = 200
FLOW_BYTES = 16 * 1024


@pytest.mark.parametrize("spec", ["sk-ours-sk", "ours-sk-ours", "sk:edge-ours-sk:edge", *CONTROLS])
def test_200_concurrent_flows(net: RouterNet, spec: str) -> None:
    chain = build(net, spec, Backend(EchoHandler))

    def one(index: int) -> bool:
        payload = index.to_bytes(4, "big") * (FLOW_BYTES // 4)
        return echo_once(chain.port, payload, timeout=30) == payload

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(FLOWS) as pool:
        results = list(pool.map(one, range(FLOWS)))
    print(f"{spec}: {FLOWS} concurrent flows in {time.monotonic() - start:.2f} s")
    assert results.count(False) == 0, f"{results.count(False)} of {FLOWS} flows failed"
    chain.close()


@pytest.mark.parametrize("spec", ["ours-ours-sk", "sk-ours"])
def test_new_flows_at_a_skupper_router_tcp_side_lose_no_byte(net: RouterNet, spec: str) -> None:
    """400 new flows of 128 KiB each way, 25 at a time: each starts while the
    skupper-router at one end switches its stream to cut-through, which loses bytes that
    arrive meanwhile (docs/skupper-router-interop.md). Before our streams waited for it,
    2 or 3 flows of 400 lost bytes in most runs, in both directions."""
    size = 128 * 1024
    backend = Backend(StreamHandler, send_size=size)
    chain = build(net, spec, backend)

    def intact(_: int) -> bool:
        result = stream_through(chain.port, size, timeout=30)
        return result.received == size and backend.has_result(
            (result.sent_sha, result.received_sha)
        )

    with concurrent.futures.ThreadPoolExecutor(25) as pool:
        results = list(pool.map(intact, range(400)))
    assert results.count(False) == 0, f"{results.count(False)} of 400 flows lost bytes"
    chain.close()


@pytest.mark.parametrize("spec", ["ours-sk-ours", "ours-ours-sk-ours"])
def test_many_large_flows_through_a_skupper_router_lose_none(net: RouterNet, spec: str) -> None:
    """96 flows of 1 MiB each way, 32 at once, through a skupper-router in the middle. Its
    proton closes a connection that holds more than 4 MiB of unread delivery bytes, and
    every flow on it is lost: before our routers kept a budget toward it
    (``router/send_budget.py``), 80 and 162 of 200 such flows were lost."""
    backend = Backend(StreamHandler, send_size=MIB)
    chain = build(net, spec, backend)

    def intact(_: int) -> bool:
        try:
            result = stream_through(chain.port, MIB, timeout=30)
        except OSError:
            return False
        return backend.has_result((result.sent_sha, result.received_sha), 10)

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = list(pool.map(intact, range(96)))
    print(f"{spec}: 96 flows of 1 MiB, 32 at once, in {time.monotonic() - start:.2f} s")
    assert results.count(False) == 0, f"{results.count(False)} of 96 flows lost"
    chain.close()
