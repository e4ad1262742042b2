"""The one object that owns the CLI's output: results on stdout, messages and errors on
stderr, tables or JSON/YAML for status and list commands."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


class Output:
    def __init__(self) -> None:
        # Consoles look up sys.stdout/sys.stderr when printing, so test runners that swap
        # them still capture everything.
        self._out = Console(highlight=False, soft_wrap=True)
        self._err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.quiet = False  # --quiet: no hints and no progress, results and errors only

    def raw(self, text: str) -> None:
        """Exactly `text` on stdout (YAML meant for a file)."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def say(self, message: str) -> None:
        self._out.print(message, markup=False)

    def draw(self, renderable: object) -> None:
        """A rich renderable (a tree) on stdout; in pipes and files as plain text."""
        self._out.print(renderable)

    def hint(self, message: str) -> None:
        """Guidance for a person, on stderr so stdout stays clean for redirection."""
        if not self.quiet:
            self._err.print(message, markup=False, style="dim")

    def progress(self, message: str) -> AbstractContextManager[object]:
        """A spinner with ``message`` on stderr while a step of long work runs; nothing
        with --quiet or when stderr is not a terminal (pipes, files, CI logs)."""
        if self.quiet or not self._err.is_terminal:
            return nullcontext()
        return self._err.status(f"{message}...", spinner="dots")

    def warn(self, message: str) -> None:
        self._err.print(f"warning: {message}", markup=False, style="yellow")

    def error(self, message: str) -> None:
        self._err.print(f"error: {message}", markup=False, style="red")

    def records(
        self, rows: Sequence[dict[str, Any]], output_format: OutputFormat, columns: Sequence[str]
    ) -> None:
        """Rows as a table (the given columns) or, for machines, complete as JSON/YAML."""
        if output_format is OutputFormat.JSON:
            self.raw(json.dumps(list(rows), indent=2) + "\n")
        elif output_format is OutputFormat.YAML:
            self.raw(yaml.safe_dump(list(rows), sort_keys=False))
        elif not rows:
            self.say("nothing found")
        else:
            table = Table(box=None, header_style="bold")
            for column in columns:
                table.add_column(column, overflow="fold")  # wrapped in a cell, never cut
            for row in rows:
                table.add_row(*(_cell(row.get(column)) for column in columns))
            if self._out.is_terminal:
                self._out.print(table)
                return
            # Into a pipe or a file: every row on one line, however wide (rich would
            # otherwise assume 80 columns and wrap them).
            natural = self._out.measure(table, options=self._out.options.update_width(10**6))
            Console(highlight=False, width=natural.maximum).print(table)

    def record(self, row: dict[str, Any], output_format: OutputFormat) -> None:
        """One object: key/value lines, or JSON/YAML."""
        if output_format is OutputFormat.JSON:
            self.raw(json.dumps(row, indent=2) + "\n")
        elif output_format is OutputFormat.YAML:
            self.raw(yaml.safe_dump(row, sort_keys=False))
        else:
            width = max(len(key) for key in row)
            for key, value in row.items():
                self.say(f"{key.ljust(width)}  {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


output = Output()
