"""Two sites with one name (in two namespaces) link to one hub: the second is refused
with a reason it can read in `site status`, and the first link holds (no flapping)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli_helpers import init_linkable_site, namespace_folder, ok, status_json
from tests.reliability.figures import report


def test_a_second_site_of_the_same_name_is_refused_with_a_reason(
    router_available: None, tmp_path: Path, skupper_home: Path
) -> None:
    init_linkable_site("hub")
    for namespace in ("first", "second"):
        link = tmp_path / f"{namespace}.yaml"
        link.write_text(
            ok("link", "generate", "--host", "127.0.0.1", "--name", f"to-hub-{namespace}",
               "-n", "hub").stdout
        )  # fmt: skip
        ok("site", "init", "dup", "-n", namespace)
        ok("link", "create", str(link), "-n", namespace)
        deadline = time.monotonic() + 20
        while True:
            links = status_json("site", "status", "-n", namespace)["links"]
            if links[0]["up"] or links[0]["error"]:
                break
            assert time.monotonic() < deadline, f"{namespace}: link neither up nor refused"
            time.sleep(0.2)
    time.sleep(8)  # two of the hub's old 4-second flaps
    first = status_json("site", "status", "-n", "first")["links"][0]
    second = status_json("site", "status", "-n", "second")["links"][0]
    report(f"first: {first}; second: {second}")
    assert first["up"] and first["remoteSite"] == "hub"
    assert not second["up"] and "two sites have the name dup" in second["error"]
    hub_log = (namespace_folder(skupper_home, "hub") / "runtime" / "router.log").read_text()
    assert "router dup unreachable" not in hub_log
    assert status_json("site", "status", "-n", "hub")["linkedSites"] == ["dup"]
