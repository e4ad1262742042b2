"""The one user-facing error type.

The library raises `SkupperError` with a one-line message that a user can act on; the CLI
prints that line on stderr and exits 1. Everything else is a bug and keeps its traceback.
"""


class SkupperError(Exception):
    """A problem the user can fix, described in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
