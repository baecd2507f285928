"""The public entry of the policy engine: `schedule(cib, now) -> Transition`.

The engine is a pure function. It never reads the clock, files or the network: "now" is
the `now` argument, else the CIB's `execution-date`, else the caller's `default_now`,
else the fixed `FALLBACK_NOW` (2022-12-08T00:00:00Z, the Pacemaker 2.1.5 tag date, so
that the same input always gives the same transition). Bad input raises
`messaging.errors.ValidationError` or `ConfigError` with a Location; nothing else escapes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lxml import etree

from pengine.model import (
    Action,
    ClusterStatus,
    FailedOperation,
    NodeStatus,
    Pairs,
    ResourceStatus,
)

if TYPE_CHECKING:  # networkx costs ~0.1 s to import; crm_mon only unpacks status
    import networkx as nx

FALLBACK_NOW = datetime.datetime(2022, 12, 8, tzinfo=datetime.UTC)

CibInput = str | bytes | etree._Element


@dataclass(frozen=True, slots=True)
class Transition:
    """The result of one scheduler run.

    graph: networkx DiGraph over the actions that go into the transition graph (required
    and runnable, pseudo included); node key = Action.id, node attribute "action" = Action;
    edge first -> then means "then waits for first".
    actions: every action created, in creation order (optional/blocked ones included).
    summary: the Transition Summary lines exactly as crm_simulate prints them.
    scores: "pcmk__primitive_assign: <rsc> allocation score on <node>: <score>" lines (sorted).
    """

    graph: nx.DiGraph  # type: ignore[type-arg]
    actions: tuple[Action, ...]
    summary: tuple[str, ...]
    scores: tuple[str, ...]
    status: ClusterStatus
    now: datetime.datetime
    transition_id: int = 0
    options: Pairs = field(default=())
    resource_order: tuple[str, ...] = ()  # top-level resources in Pacemaker's sorted order


def schedule(
    cib: CibInput,
    now: datetime.datetime | None = None,
    *,
    default_now: datetime.datetime | None = None,
    transition_id: int = 0,
) -> Transition:
    """Compute the transition for a CIB.

    Args:
        cib: the whole CIB (<cib> with configuration and status) as text, bytes or element.
        now: the effective time ("crm_simulate -t"); overrides the CIB's execution-date.
        default_now: used when neither `now` nor execution-date is given.
        transition_id: copied into the result.

    Returns:
        The Transition (graph, actions, summary, scores, unpacked status).

    Raises:
        ValidationError: the input is not a usable CIB (bad XML, missing sections, ...).
    """
    from pengine.scheduler import run

    return run(cib, now, default_now or FALLBACK_NOW, transition_id)


def unpack_status(
    cib: CibInput,
    now: datetime.datetime | None = None,
    *,
    default_now: datetime.datetime | None = None,
) -> ClusterStatus:
    """Unpack only the cluster status (nodes, resources, failures) of a CIB."""
    from pengine.status import status_only

    return status_only(cib, now, default_now or FALLBACK_NOW)


def node_lines(status: ClusterStatus) -> list[str]:
    """crm_mon's "Node List" entries (special nodes one per line, then Online/OFFLINE lists)."""
    from pengine import status_text

    return status_text.node_lines(status)


def node_state_text(node: NodeStatus, active: bool) -> str:
    """A node's state as crm_mon -n words it ("online", "OFFLINE", "standby", ...)."""
    from pengine import status_text

    special = status_text._node_state(node, active)
    if special is not None:
        return special
    return "online" if node.online else "OFFLINE"


def resource_lines(status: ClusterStatus, *, inactive: bool = True) -> list[str]:
    """crm_mon's resource lines (crm_simulate's too); inactive=False hides inactive ones."""
    from pengine import status_text

    return status_text.resource_lines(status, inactive=inactive)


def primitive_line(rsc: ResourceStatus) -> str:
    """One primitive as `id<TAB>(agent):<TAB> state`."""
    from pengine import status_text

    return status_text.primitive_line(rsc)


def failed_action_line(op: FailedOperation) -> str:
    """One "Failed Resource Actions" entry."""
    from pengine import status_text

    return status_text.failed_action_line(op)


def resource_counts(status: ClusterStatus) -> tuple[int, int, int]:
    """(primitive instances configured, disabled, blocked) for crm_mon's summary."""
    from pengine import status_text

    return status_text.resource_counts(status)


def duration_ms(text: str | None, default: int = 0) -> int:
    """A Pacemaker duration ("60s", "1min", "PT5M", "500ms") in milliseconds."""
    from pengine.xmlin import duration_ms as parse

    return parse(text, default)


def rc_text(rc: int) -> str:
    """An OCF exit code as Pacemaker words it ("not running")."""
    from pengine import status_text

    return status_text._rc_text(rc)


def readable_interval(ms: int) -> str:
    """Pacemaker's short duration text (10s, 1m30s, 2h)."""
    from pengine import status_text

    return status_text.readable_interval(ms)


__all__ = [
    "FALLBACK_NOW",
    "Action",
    "ClusterStatus",
    "FailedOperation",
    "NodeStatus",
    "ResourceStatus",
    "Transition",
    "failed_action_line",
    "node_lines",
    "node_state_text",
    "primitive_line",
    "rc_text",
    "readable_interval",
    "resource_counts",
    "resource_lines",
    "schedule",
    "unpack_status",
]
