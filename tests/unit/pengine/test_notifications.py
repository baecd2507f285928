"""Clone notifications against Pacemaker's own corpus graphs and simulator output.

Golden values are the corpus .exp graphs and .summary files Pacemaker 2.1.5 wrote: every
notify synapse (pseudo and per instance) with its notify_* meta attributes and its inputs,
and the order crm_simulate executes them in.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from lxml import etree

from pengine.api import schedule
from pengine.graph_xml import synapses, to_xml

CORPUS = "conformance/scheduler"
NOW = datetime.datetime(2022, 12, 8, tzinfo=datetime.UTC)

# Cases whose notify synapses agree with Pacemaker's (start, stop, promote and demote
# phases; unique and anonymous instances; promotable clones; orderings after a notifying
# clone).
GRAPH_CASES = ["notify-1", "notify-2", "notify-3", "bug-1572-1", "bug-1572-2", "bug-lf-2153",
               "bug-lf-2358", "bug-lf-2361", "colo_promoted_w_native", "group-dependents",
               "novell-252693-2", "novell-252693-3", "promoted-10", "promoted-2",
               "promoted-move", "promoted-pseudo", "promoted-score-startup", "probe-0",
               "order_constraint_stops_promoted"]
# Cases whose whole "Executing Cluster Transition" section now matches, notifications in it.
EXECUTING_CASES = ["notify-1", "notify-2", "notify-3", "promoted-notify", "promoted-2",
                   "promoted-pseudo", "interleave-stop", "interleave-restart", "inc7",
                   "colocation_constraint_stops_unpromoted", "bug-n-387749"]

Facts = dict[tuple[str, str], tuple[object, ...]]


def _notify_facts(root: etree._Element) -> Facts:
    """(key, node) of every notify synapse -> its notify_* attributes, its inputs and its
    priority (post-notifications outrank an aborted transition)."""
    out: Facts = {}
    for synapse in root.iterfind("synapse"):
        action = synapse.find("action_set")[0]  # type: ignore[index]
        key = action.get("operation_key", "")
        if "_notify_" not in key:
            continue
        attributes = action.find("attributes")
        notify = tuple(sorted((k, v) for k, v in (attributes.attrib.items()
                                                  if attributes is not None else ())
                              if k.startswith("CRM_meta_notify_")))
        inputs = tuple(sorted((t[0].get("operation_key", ""), t[0].get("on_node", ""))
                              for t in synapse.iterfind("inputs/trigger")))
        out[(key, action.get("on_node", ""))] = (notify, inputs, synapse.get("priority"))
    return out


@pytest.mark.parametrize("name", GRAPH_CASES)
def test_notify_synapses_match_pacemakers_graph(shared: Path, name: str) -> None:
    transition = schedule((shared / CORPUS / f"xml/{name}.xml").read_bytes(), NOW)
    ours = etree.fromstring(to_xml(transition, synapses(transition)))
    expected = etree.parse(str(shared / CORPUS / f"exp/{name}.exp")).getroot()
    want = _notify_facts(expected)
    assert want, "the case has notifications"
    assert _notify_facts(ours) == want


@pytest.mark.parametrize("name", EXECUTING_CASES)
def test_notifications_execute_in_pacemakers_order(shared: Path, name: str) -> None:
    from pengine.simulate import action_line, fire_order
    from tests.unit.pengine.exp_reader import summary_section

    transition = schedule((shared / CORPUS / f"xml/{name}.xml").read_bytes(), NOW)
    got = [" ".join(line.split())
           for line in map(action_line, fire_order(synapses(transition))) if line]
    want = [" ".join(line.split()) for line in
            summary_section(shared / CORPUS / f"summary/{name}.summary",
                            "Executing Cluster Transition:")
            if not line.startswith("Using the original")]
    assert got == want


def test_a_clone_without_notify_gets_no_notifications(shared: Path) -> None:
    transition = schedule((shared / CORPUS / "xml/clone-interleave-2.xml").read_bytes(), NOW)
    assert not [a for a in transition.actions if "notif" in a.key]
