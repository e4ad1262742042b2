"""The one place where errors become one line on stderr and exit code 1 (usage errors: 2).

Tracebacks are shown only when SKUPPER_PODMAN_DEBUG is set.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from skupper_podman.cli.output import output
from skupper_podman.errors import SkupperError
from skupper_podman.resources import describe_validation_error


def debugging() -> bool:
    return bool(os.environ.get("SKUPPER_PODMAN_DEBUG"))


class ErrorReportingGroup(TyperGroup):
    """The root command group: sub-commands are parsed and run inside `invoke`, so their
    errors all pass through here."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (SkupperError, ValidationError, typer.TyperException) as error:
            if debugging():
                raise
            if isinstance(error, typer.TyperException):
                # Usage errors (missing option, bad value): typer's own exception type.
                output.error(_usage_line(error))
                raise typer.Exit(error.exit_code) from None
            if isinstance(error, ValidationError):
                output.error(describe_validation_error(error))
            else:
                output.error(str(error))
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            output.error("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # the reader went away (`| head`): nothing to say; the exit must not flush again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except Exception as error:  # what escaped every check: one line, never a traceback
            if debugging():
                raise
            detail = " ".join(str(error).split())[:200]
            output.error(
                f"internal error: {type(error).__name__}: {detail} (run again with "
                "SKUPPER_PODMAN_DEBUG=1 for the traceback, and please report it)"
            )
            raise typer.Exit(1) from None


def _usage_line(error: typer.TyperException) -> str:
    context = getattr(error, "ctx", None)
    command = getattr(context, "command_path", None) or "skupper-podman"
    return f"{error.format_message()} (see '{command} --help')"
