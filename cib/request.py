"""What a CIB operation is asked to do and what it produced (shared by ops, cli and the daemon).

Invariants: requests and outcomes are frozen; trees inside them are never changed after
construction (operations copy before they write).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

TYPE_CHECKING = False  # typing.TYPE_CHECKING: clients build requests without loading lxml
if TYPE_CHECKING:
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


@dataclass(frozen=True, slots=True)
class Author:
    """Who asked for a write, as Pacemaker's cib records it on the root of a configuration
    change: `origin` the node the client is on, `client` its name (cibadmin, crmd...),
    `user` the user it runs as (None when not known)."""

    origin: str
    client: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class WireRequest:
    """A CIB write as it travels from a client to the cib and between nodes (the Request
    with its XML as text; a client may build it from text without parsing any XML)."""

    op: str
    data: str | None = None
    scope: str | None = None
    xpath: str | None = None
    allow_create: bool = False
    multiple: bool = False
    force: bool = False
    # Stamped by the cib of the node the client is on (never by the client): trailing,
    # so that a peer or client without them still decodes.
    origin: str | None = None
    client: str | None = None
    user: str | None = None

    @property
    def author(self) -> Author | None:
        return None if self.origin is None else Author(self.origin, self.client, self.user)

    @classmethod
    def of(cls, request: Request) -> WireRequest:
        from cib.xmlio import element_text

        data = element_text(request.data, pretty=False) if request.data is not None else None
        return cls(request.op.value, data, request.scope, request.xpath, request.allow_create,
                   request.multiple, request.force)

    def request(self) -> Request:
        from cib.xmlio import parse

        data = parse(self.data) if self.data is not None else None
        return Request(Op(self.op), data, self.scope, self.xpath, self.allow_create,
                       multiple=self.multiple, force=self.force)
