"""What a CIB operation is asked to do and what it produced (shared by ops, cli and the daemon).

Invariants: requests and outcomes are frozen; trees inside them are never changed after
construction (operations copy before they write).
"""

from __future__ import annotations

import enum

from messaging.record import Record

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


class Request(Record):
    """One operation: `scope` is a section name, `xpath` replaces it when given."""

    __slots__ = (
        "allow_create",
        "data",
        "force",
        "multiple",
        "no_children",
        "node_path",
        "op",
        "scope",
        "xpath",
    )

    def __init__(self, op: Op, data: Element | None = None, scope: str | None = None,
                 xpath: str | None = None, allow_create: bool = False,
                 no_children: bool = False, node_path: bool = False, multiple: bool = False,
                 force: bool = False) -> None:
        self.op, self.data, self.scope, self.xpath = op, data, scope, xpath
        self.allow_create, self.no_children, self.node_path = allow_create, no_children, node_path
        self.multiple, self.force = multiple, force


class Outcome(Record):
    """A finished operation: the tree after it, what to print and the change made."""

    __slots__ = ("cib", "config_changed", "output", "patch", "paths")

    def __init__(self, cib: Element, output: Element | None = None, paths: tuple[str, ...] = (),
                 patch: Element | None = None, config_changed: bool = False) -> None:
        self.cib, self.output, self.paths = cib, output, paths
        self.patch, self.config_changed = patch, config_changed

    @property
    def changed(self) -> bool:
        return self.patch is not None


class Author(Record):
    """Who asked for a write, as Pacemaker's cib records it on the root of a configuration
    change: `origin` the node the client is on, `client` its name (cibadmin, crmd...),
    `user` the user it runs as (None when not known)."""

    __slots__ = ("client", "origin", "user")

    def __init__(self, origin: str, client: str | None = None, user: str | None = None) -> None:
        self.origin, self.client, self.user = origin, client, user


class WireRequest(Record):
    """A CIB write as it travels from a client to the cib and between nodes (the Request
    with its XML as text; a client may build it from text without parsing any XML).
    `origin`, `client` and `user` are stamped by the cib of the node the client is on
    (never by the client): trailing, so that a peer or client without them still decodes."""

    __slots__ = (
        "allow_create",
        "client",
        "data",
        "force",
        "multiple",
        "op",
        "origin",
        "scope",
        "user",
        "xpath",
    )

    def __init__(self, op: str, data: str | None = None, scope: str | None = None,
                 xpath: str | None = None, allow_create: bool = False, multiple: bool = False,
                 force: bool = False, origin: str | None = None, client: str | None = None,
                 user: str | None = None) -> None:
        self.op, self.data, self.scope, self.xpath = op, data, scope, xpath
        self.allow_create, self.multiple, self.force = allow_create, multiple, force
        self.origin, self.client, self.user = origin, client, user

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
