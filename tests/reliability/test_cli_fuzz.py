"""The CLI under a few hundred bad invocations (seeded): each ends with exit code 0, 1 or
2, at most one line on stderr, and never a traceback (``cli/errors.py`` is the boundary)."""

from __future__ import annotations

import random
from pathlib import Path

from tests.cli_helpers import init_linkable_site, ok, run
from tests.reliability.figures import report

VALUES = [
    "", " ", "-1", "0", "1", "65536", "99999", "10" * 13, "9" * 40, "1e9", "0x10", "١٢٣",
    "abc", "ä" * 300, "x" * 5000, "a" * 300, "../../etc/passwd", "/dev/null", "/", "-",
    "--", "-n", "127.0.0.1", "::1", "https://h:abc/x", "https://h:99999/x",
    "https://" + "h" * 5000 + ":8/x", "15m", "999999999999999999d", "1s", "0s", "x1h",
    "NaN", "inf", "true", "null", "{}", "[]", "*a", "\x00", "default", "db",
]  # fmt: skip

COMMANDS = [
    ("site", "init", "{v}", "-n", "{v}"),
    ("site", "init", "--link-access", "--port", "{v}", "-n", "fz"),
    ("site", "status", "-n", "{v}"),
    ("site", "status", "-o", "{v}"),
    ("listener", "create", "{v}", "{v}", "--routing-key", "{v}", "-n", "fuzz"),
    ("listener", "create", "l1", "{v}", "--routing-key", "k", "--host", "{v}", "-n", "fuzz"),
    ("listener", "create", "l2", "20000", "--routing-key", "k", "--tls-credentials", "{v}",
     "-n", "fuzz"),
    ("connector", "create", "{v}", "{v}", "--routing-key", "{v}", "--host", "{v}", "-n", "fuzz"),
    ("connector", "create", "c1", "80", "--routing-key", "k", "--host", "h",
     "--tls-credentials", "{v}", "--use-client-cert", "-n", "fuzz"),
    ("connector", "delete", "{v}", "-n", "fuzz"),
    ("listener", "status", "{v}", "-n", "fuzz"),
    ("token", "issue", "--expiry", "{v}", "-n", "fuzz"),
    ("token", "issue", "--uses", "{v}", "-n", "fuzz"),
    ("token", "issue", "--cost", "{v}", "-n", "fuzz"),
    ("token", "issue", "--host", "{v}", "-n", "fuzz"),
    ("token", "issue", "--name", "{v}", "-n", "fuzz"),
    ("token", "redeem", "{token}", "-n", "fuzz"),
    ("token", "show", "{v}", "-n", "fuzz"),
    ("link", "create", "{v}", "-n", "fuzz"),
    ("link", "generate", "--host", "{v}", "--cost", "{v}", "-n", "fuzz"),
    ("link", "delete", "{v}", "-n", "fuzz"),
    ("apply", "-f", "{v}", "-n", "fuzz"),
    ("network", "status", "-n", "{v}"),
    ("{v}",),
    ("listener", "{v}"),
]  # fmt: skip

TOKEN = """\
apiVersion: skupper.io/v2alpha1
kind: AccessToken
metadata:
  name: {name}
spec:
  url: {url}
  code: {code}
  ca: {ca}
"""


def _token(tmp_path: Path, rng: random.Random, index: int) -> str:
    path = tmp_path / f"token-{index}.yaml"
    url = rng.choice(["https://h:abc/x", "https://h:99999/x", "https://" + "h" * 5000 + ":8/x",
                      "http://h:8/x", "https://127.0.0.1:1/x", "nonsense"])  # fmt: skip
    name = rng.choice(["t", "a" * 300, "Bad_Name", "x"])
    ca = rng.choice(["x", "'-----BEGIN CERTIFICATE-----'", "''"])
    path.write_text(TOKEN.format(name=name, url=url, code=rng.choice(["c", "''"]), ca=ca))
    return str(path)


def test_no_invocation_ends_in_a_traceback(router_available: None, tmp_path: Path) -> None:
    init_linkable_site("fuzz")
    rng = random.Random(20261204)
    codes: dict[int, int] = {}
    for index in range(300):
        template = rng.choice(COMMANDS)
        args = [
            _token(tmp_path, rng, index) if part == "{token}" else
            rng.choice(VALUES) if part == "{v}" else part
            for part in template
        ]  # fmt: skip
        result = run(*args)
        where = f"skupper-podman {' '.join(a[:40] for a in args)}"
        assert result.exit_code in (0, 1, 2), f"{where}: exit {result.exit_code}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{where}: {result.exception!r}"
        )
        output = result.stdout + result.stderr
        assert "Traceback" not in output and "internal error" not in output, f"{where}: {output}"
        if result.exit_code != 0:
            assert len(result.stderr.strip().splitlines()) <= 1, f"{where}: {result.stderr}"
        codes[result.exit_code] = codes.get(result.exit_code, 0) + 1
    report(f"300 invocations: exit codes {dict(sorted(codes.items()))}")
    ok("site", "status", "-n", "fuzz")  # the site survived it all
