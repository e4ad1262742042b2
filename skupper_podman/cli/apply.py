"""`skupper-podman apply -f FILE|-` and `delete -f FILE|-`: the site as Skupper v2 YAML."""

from __future__ import annotations

from typing import Annotated

import typer

from skupper_podman import yaml_input
from skupper_podman.cli.options import DEFAULT_NAMESPACE, Namespace
from skupper_podman.cli.output import output
from skupper_podman.site.apply import apply_documents
from skupper_podman.site.documents import Document, parse_documents
from skupper_podman.site.outcome import Outcome
from skupper_podman.site.removal import delete_documents

File = Annotated[
    str, typer.Option("--filename", "-f", help="YAML file with Skupper v2 resources; - for stdin.")
]


def read_documents(file: str) -> list[Document]:
    """The documents of FILE, or of stdin for '-'."""
    return parse_documents(yaml_input.read_text(file), "stdin" if file == "-" else file)


def apply(
    *,
    file: File,
    platform: Annotated[
        str | None, typer.Option("--platform", help="Where a new site's router runs.")
    ] = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Create or update the site's resources from YAML (a Site creates the site)."""
    documents = read_documents(file)
    for document in documents:
        for warning in document.warnings:
            output.warn(warning)
    outcome = apply_documents(namespace, documents, platform=platform)
    _report(outcome)
    if not outcome.reloaded:
        output.warn("the router is not running; the changes apply when it starts")


def delete(
    *,
    file: File,
    ignore_not_found: Annotated[
        bool, typer.Option("--ignore-not-found", help="Missing resources are not an error.")
    ] = False,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """Delete the resources named in YAML (a Site deletes the whole site)."""
    outcome = delete_documents(namespace, read_documents(file), ignore_not_found=ignore_not_found)
    if outcome.site_deleted:
        output.say(f"Site in namespace {namespace} deleted.")
    _report(outcome)


def _report(outcome: Outcome) -> None:
    for verb, names in (
        ("created", outcome.created),
        ("updated", outcome.updated),
        ("unchanged", outcome.unchanged),
        ("deleted", outcome.deleted),
        ("not found", outcome.not_found),
    ):
        for name in names:
            output.say(f"{name} {verb}")
    for note in outcome.notes:
        output.say(note)
