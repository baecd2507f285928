"""What a CIB operation is asked to do and what it produced (shared by ops, cli and the daemon).

Invariants: requests and outcomes are frozen; trees inside them are never changed after
construction (operations copy before they write).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cib.xmlio import Element


class Op(enum.Enum):
    """The operations of cibadmin (and of the cib daemon's requests)."""

    QUERY = "query"
    CREATE = "create"
    MODIFY = "modify"
    REPLACE = "replace"
    DELETE = "delete"
    ERASE = "erase"
    BUMP = "bump"
    UPGRADE = "upgrade"
    PATCH = "patch"


@dataclass(frozen=True)
class Request:
    """One operation: `scope` is a section name, `xpath` replaces it when given."""

    op: Op
    data: Element | None = None
    scope: str | None = None
    xpath: str | None = None
    allow_create: bool = False
    no_children: bool = False
    node_path: bool = False
    multiple: bool = False
    force: bool = False


@dataclass(frozen=True)
class Outcome:
    """A finished operation: the tree after it, what to print and the change made."""

    cib: Element
    output: Element | None = None
    paths: tuple[str, ...] = ()
    patch: Element | None = None
    config_changed: bool = False

    @property
    def changed(self) -> bool:
        return self.patch is not None
