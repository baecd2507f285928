"""The master's bookkeeping inside cib.replication's ReplicaCore: the state of a view's sync
(plain data), and the two rules every member computes alike: the master a view starts
with, and the digest copies are compared by. The invariants they serve are in
cib.replication's docstring."""

from __future__ import annotations

from dataclasses import dataclass, field

from cib.model import Version
from cib.replication_messages import WireRequest
from cib.xmlio import Element, versioned_digest


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


@dataclass
class Sync:
    """The master's state while it brings a new view's copies together."""

    announced: dict[str, tuple[Version, int, str]] = field(default_factory=dict)
    asked: int = 0
    fetching_from: str | None = None
    queue: list[tuple[str, str, WireRequest]] = field(default_factory=list)
    fresh: set[str] = field(default_factory=set)  # announced copies loaded from disk


def forget_fenced(node: str, members: dict[str, int]) -> bool:
    """Drop a fenced replica from the view's members (its messages in this view are ignored
    from now on); False if it was no member."""
    return members.pop(node, None) is not None
