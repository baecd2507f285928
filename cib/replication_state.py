"""The master's bookkeeping inside cib.replication's ReplicaCore: the state of a view's sync
(plain data), the spare tree its next write is made on (`SpareTree`), and the two rules
every member computes alike: the master a view starts with, and the digest copies are
compared by. The invariants they serve are in cib.replication's docstring."""

from __future__ import annotations

from dataclasses import dataclass, field

from cib.model import Version, version_of
from cib.patch import apply_patchset
from cib.replication_messages import WireRequest
from cib.xmlio import Element, parse, versioned_digest
from messaging.errors import HAError


def choose_master(members: tuple[tuple[int, str], ...]) -> str | None:
    """The master at the start of a view, before any DC is agreed: the member with the
    lowest node id (every member computes the same)."""
    return min(members)[1] if members else None


def dc_of(claims: dict[str, str | None], members: dict[str, int]) -> str | None:
    """The DC the members' cibs name (`claims`): a member that names itself, when no
    member names another. A member that names nobody yet (its controller is still
    starting) does not hold the master copy back from the DC: Pacemaker's new DC makes its
    own cib the primary as it takes over (do_dc_takeover), whoever has not heard of it yet
    (at a 16-node cold boot, waiting for the last controller held the join's writes
    0.8-1.8 s after the last view)."""
    named = {claims[member] for member in members if claims.get(member) is not None}
    if len(named) != 1:
        return None
    dc = named.pop()
    return dc if dc in members and claims.get(dc) == dc else None


def digest_of(cib: Element) -> str:
    """The digest replicas compare (Pacemaker's versioned digest of the whole CIB)."""
    return versioned_digest(cib, cib.get("crm_feature_set"))


class SpareTree:
    """The master's tree before its last write, and that write's patch: its next write is
    made on this tree brought up to date by the patch (in place: what the patch touches),
    not on a copy of the whole CIB (cib.ops_write.write; a copy cost 35 ms at 2 MB). A
    tree let go of in the current event is not reused in it: that event's effects (its
    `PersistCib`) name it, and the shell reads them after the event. `take` hands the
    tree over for good (a refused write leaves it half-changed: it is not kept); `drop`
    lets it go (the copy changed otherwise, or writes paused: it holds a whole CIB)."""

    def __init__(self) -> None:
        self._kept: tuple[Element, str, int] | None = None  # tree, patch, event let go in

    def keep(self, tree: Element, patch: str, event: int) -> None:
        self._kept = (tree, patch, event)

    def drop(self) -> None:
        self._kept = None

    def take(self, version: Version, event: int) -> Element | None:
        """The spare brought to `version` (the current copy's), or None (no spare, let go
        in this `event`, or its patch does not take it there)."""
        kept, self._kept = self._kept, None
        if kept is None or kept[2] == event:
            return None
        tree, patch, _ = kept
        try:
            apply_patchset(tree, parse(patch), check=True, in_place=True)
        except HAError:
            return None
        return tree if version_of(tree, absent=0) == version else None


@dataclass
class Sync:
    """The master's state while it brings a new view's copies together."""

    announced: dict[str, tuple[Version, int, str]] = field(default_factory=dict)
    asked: int = 0
    fetching_from: str | None = None
    queue: list[tuple[str, str, WireRequest]] = field(default_factory=list)
    fresh: set[str] = field(default_factory=set)  # announced copies loaded from disk


def drop_member(node: str, members: dict[str, int]) -> bool:
    """Drop a replica (fenced, or refused for its older protocol) from the view's members
    (its messages in this view are ignored from now on); False if it was no member."""
    return members.pop(node, None) is not None
