"""A real application for the tests and the bench: redis-server on loopback, and
redis-benchmark's figures (Debian: redis-server, redis-tools)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.ports import free_port
from tests.routernet import wait_listening

TOOLS = ("redis-server", "redis-benchmark", "redis-cli")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


class RedisServer:
    """A redis-server on loopback that keeps nothing on disk, listening once made."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        options = f"--port {self.port} --bind 127.0.0.1 --appendonly no --maxclients 1000"
        self._process = subprocess.Popen(
            ["redis-server", *options.split(), "--save", "", "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.port, timeout=10)

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(10)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def benchmark(port: int, *options: str) -> dict[str, float]:
    """Requests per second of each test redis-benchmark ran ("GET", "SET", ...). It exits
    1 at the first connection reset or closed under it: that is an error here."""
    done = subprocess.run(
        ["redis-benchmark", "-p", str(port), "--csv", *options],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"redis-benchmark {' '.join(options)}: {done.stderr.strip()}")
    rows = [line.split(",") for line in done.stdout.splitlines()[1:] if line]
    return {test.strip('"'): float(rps.strip('"')) for test, rps, *_ in rows}
