"""Many new flows at once through chains of both kinds of router, counting the lost ones.

    .venv/bin/python -m tests.interop.stress [--flows 400] [--at-once 25] [--size 1048576]
        [CHAIN ...]     (default: sk-sk, sk-ours, ours-sk, ours-ours)

Each flow sends ``--size`` random bytes, half-closes, and must get ``--size`` bytes back
with both digests right within 10 s. Prints one line per chain: flows, lost, seconds.
The loads here are heavier than CI's (``test_chains.py``): they show where the reference
skupper-router itself loses flows (``docs/skupper-router-interop.md``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import tempfile
import time
from pathlib import Path

from tests.router.peers import Backend, StreamHandler, stream_through
from tests.routernet import RouterNet

from .chains import build


def run(spec: str, flows: int, at_once: int, size: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as folder:
        net = RouterNet(Path(folder))
        backend = Backend(StreamHandler, send_size=size)
        try:
            chain = build(net, spec, backend)

            def one(_: int) -> bool:
                try:
                    result = stream_through(chain.port, size, timeout=10)
                except OSError:
                    return False
                return backend.has_result((result.sent_sha, result.received_sha), 10)

            start = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(at_once) as pool:
                results = list(pool.map(one, range(flows)))
            return results.count(False), time.monotonic() - start
        finally:
            net.stop()
            backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chains", nargs="*", default=["sk-sk", "sk-ours", "ours-sk", "ours-ours"])
    parser.add_argument("--flows", type=int, default=400)
    parser.add_argument("--at-once", type=int, default=25)
    parser.add_argument("--size", type=int, default=1024 * 1024)
    args = parser.parse_args()
    print(f"{'chain':<24} {'flows':>6} {'lost':>5} {'seconds':>8}")
    for spec in args.chains:
        lost, seconds = run(spec, args.flows, args.at_once, args.size)
        print(f"{spec:<24} {args.flows:>6} {lost:>5} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
