"""Long work names its steps here (building an image, waiting for a router or a link);
whoever runs it decides how to show them. The CLI shows a spinner on a terminal; the
library used on its own, and output into pipes or files, show nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar

Reporter = Callable[[str], AbstractContextManager[object]]

_reporter: ContextVar[Reporter | None] = ContextVar("progress_reporter", default=None)


def show_with(reporter: Reporter | None) -> None:
    """From now on (in this context), steps are shown by ``reporter`` (None: not shown)."""
    _reporter.set(reporter)


@contextmanager
def step(message: str) -> Iterator[None]:
    """Run the body as one named step of long work."""
    reporter = _reporter.get()
    with reporter(message) if reporter is not None else nullcontext():
        yield
