"""Flame graphs of our routers under the loads users send most, saved beside the bench.

Builds one position of ``bench/versus.py`` with our routers, then records every router with
py-spy while the load runs: request/response of 64 B on 50 connections, new connections
(connect, echo 64 B, close) from 32 clients, and redis-benchmark's GET with 50 clients (when
redis is installed). Writes one SVG per router
and load to ``bench/profiles/<position>-<load>-<router>.svg``.

    python bench/flamegraphs.py [--position "2 routers"] [--seconds 8]

(py-spy comes with ``pip install '.[bench]'``.)
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loads import background, build_loadgen  # noqa: E402
from versus import POSITIONS, build  # noqa: E402

from tests.ports import free_port  # noqa: E402
from tests.routernet import RouterNet, wait_listening  # noqa: E402

OUT = ROOT / "bench" / "profiles"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--position", default="2 routers", choices=sorted(POSITIONS))
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--raw", action="store_true", help="collapsed stacks (.txt), not SVG")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("profile: py-spy is not installed (pip install '.[bench]')", file=sys.stderr)
        return 1
    OUT.mkdir(exist_ok=True)
    slug = args.position.replace(" ", "").replace("-", "")
    suffix = "txt" if args.raw else "svg"
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-profile-")))
        binary = build_loadgen(folder)
        backends = {"echo": free_port()}
        stack.enter_context(background([str(binary), "echo", str(backends["echo"])]))
        redis = shutil.which("redis-server") and shutil.which("redis-benchmark")
        if redis:
            backends["redis"] = free_port()
            command = ["redis-server", "--port", str(backends["redis"]), "--save", ""]
            stack.enter_context(background([*command, "--bind", "127.0.0.1"]))
        for port in backends.values():
            wait_listening(port, timeout=10)
        net = RouterNet(folder / "routers")
        stack.callback(net.stop)
        ports = build(net, POSITIONS[args.position].format(k="ours"), backends)
        routers = {r.name: r.process.pid for r in net.routers.values() if r.process}
        time.sleep(1)
        loads = {
            "rr50": [str(binary), "rr", str(ports["echo"]), "50", str(args.seconds), "64"],
            "connect": [str(binary), "connect", str(ports["echo"]), "32", str(args.seconds)],
        }
        if redis:
            loads["redisget"] = [
                "redis-benchmark", "-p", str(ports["redis"]), "-c", "50", "-t", "get",
                "-n", "10000000", "-q",
            ]  # fmt: skip
        for load, command in loads.items():
            recorders = {
                name: subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(args.seconds),
                        "--rate",
                        "250",
                        "--nonblocking",
                        *(["--format", "raw"] if args.raw else []),
                        "--output",
                        str(OUT / f"{slug}-{load}-{name}.{suffix}"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for name, pid in routers.items()
            }
            client = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            for recorder in recorders.values():
                recorder.wait()
            client.terminate()
            client.wait()
            written = [f"bench/profiles/{slug}-{load}-{name}.{suffix}" for name in recorders]
            print(f"{args.position}, {load}: " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
