"""A real application through chains of both kinds of router: redis-server behind the
last router, redis-benchmark and redis-cli at the first one's listener.

What users send most, many small requests from many clients, on kept connections, on a
new connection per request, and pipelined. redis-benchmark exits 1 at the first
connection that is reset or closed under it, so a lost flow fails the test.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_peers import RedisServer, benchmark, missing_tools
from tests.routernet import RouterNet

from .chains import build


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    missing = missing_tools()
    if missing:
        reason = f"{', '.join(missing)} not installed (Debian: redis-server, redis-tools)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with RedisServer(tmp_path) as server:
        yield server


def _cli(port: int, *command: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *command], input=stdin, capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# mixed chains, and controls of one kind
REDIS_CHAINS = "ours-sk-ours sk:edge-ours-sk:edge ours:edge-sk-ours:edge ours-ours sk-sk-sk"


@pytest.mark.parametrize("spec", [*REDIS_CHAINS.split(), "ours:edge-ours-ours:edge"])
def test_redis_benchmark_through_the_chain(net: RouterNet, redis: RedisServer, spec: str) -> None:
    chain = build(net, spec, redis)
    start = time.monotonic()
    kept = benchmark(chain.port, "-c", "50", "-n", "20000", "-r", "1000", "-t", "set,get")
    fresh = benchmark(chain.port, "-c", "16", "-n", "1500", "-k", "0", "-t", "ping_inline")
    piped = benchmark(chain.port, "-c", "8", "-n", "40000", "-P", "32", "-d", "256", "-t", "set")
    assert set(kept) == {"SET", "GET"} and set(fresh) == {"PING_INLINE"} and set(piped) == {"SET"}
    value = os.urandom(512 * 1024).hex().encode()  # 1 MiB, one request and one reply
    assert _cli(chain.port, "-x", "set", "big", stdin=value).strip() == b"OK"
    assert _cli(chain.port, "--no-raw", "strlen", "big").strip() == b"(integer) 1048576"
    assert _cli(chain.port, "get", "big").rstrip(b"\n") == value
    print(f"{spec}: GET {kept['GET']:,.0f}/s, SET {kept['SET']:,.0f}/s, a connection per "
          f"PING {fresh['PING_INLINE']:,.0f}/s, SET pipelined {piped['SET']:,.0f}/s "
          f"({time.monotonic() - start:.1f} s)")  # fmt: skip
    chain.close()
