"""What `apply -f` or `delete -f` did, resource by resource."""

from __future__ import annotations

from dataclasses import dataclass, field

from skupper_podman import resources as res


@dataclass
class Outcome:
    """What `apply` or `delete` did, per resource ("Listener db")."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    site_created: bool = False
    site_deleted: bool = False
    reloaded: bool = False
    notes: list[str] = field(default_factory=list)  # what the user does next


def key(resource: res.Resource) -> str:
    return f"{resource.kind} {resource.name}"
