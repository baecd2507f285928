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

import networkx as nx
from lxml import etree

from pengine.model import Action, ClusterStatus, Pairs

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
    from pengine.scheduler import status_only

    return status_only(cib, now, default_now or FALLBACK_NOW)


__all__ = ["FALLBACK_NOW", "Action", "ClusterStatus", "Transition", "schedule", "unpack_status"]
