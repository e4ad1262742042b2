"""The CLI's tables when its output goes to a pipe or a file."""

from __future__ import annotations

import pytest

from skupper_podman.cli.output import Output, OutputFormat


def test_a_table_into_a_pipe_keeps_every_value_whole_on_its_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    detail = "connection refused by 10.88.0.17:5432 " * 4
    rows = [{"name": "a-rather-long-listener-name", "routingKey": "db-primary", "detail": detail}]
    Output().records(rows, OutputFormat.TABLE, ["name", "routingKey", "detail"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # the header and one row: nothing wrapped at 80 columns
    assert lines[1].split()[:2] == ["a-rather-long-listener-name", "db-primary"]
    assert detail.strip() in lines[1] and "…" not in lines[1]
