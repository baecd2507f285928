"""Read a Pacemaker .exp transition graph into our Synapse/Action values (test helper).

Only used by tests: it lets the simulator and the XML writer be checked against the
corpus graphs written by Pacemaker itself, independently of our scheduling engine.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from pengine.graph_xml import Synapse
from pengine.model import Action

_ACTION_TAGS = ("rsc_op", "pseudo_event", "crm_event")


def _action(element: etree._Element, attributes: tuple[tuple[str, str], ...]) -> Action:
    primitive = element.find("primitive")
    resource = None
    agent = None
    if primitive is not None:
        resource = primitive.get("id")
        parts = [primitive.get("class"), primitive.get("provider"), primitive.get("type")]
        agent = ":".join(p for p in parts if p)
    meta = dict(attributes)
    return Action(
        id=int(element.get("id", "0")),
        key=element.get("operation_key", ""),
        task=element.get("operation", ""),
        resource=resource,
        node=element.get("on_node"),
        node_id=element.get("on_node_uuid"),
        interval_ms=int(meta.get("CRM_meta_interval", "0")),
        pseudo=element.tag == "pseudo_event",
        optional=False,
        runnable=True,
        attributes=attributes,
        agent=agent,
    )


def read_exp(path: Path) -> tuple[Synapse, ...]:
    """The synapses of an .exp file, in file order, with inputs resolved to actions."""
    root = etree.parse(str(path)).getroot()
    actions: dict[int, Action] = {}
    raw = []
    for synapse in root.iterfind("synapse"):
        element = next(e for e in synapse.find("action_set") if e.tag in _ACTION_TAGS)
        attrs = element.find("attributes")
        pairs: tuple[tuple[str, str], ...] = ()
        if attrs is not None:
            params = [(p.get("name", ""), p.get("value", "")) for p in attrs.iterfind("param")]
            pairs = tuple(sorted([*attrs.attrib.items(), *params]))
        action = _action(element, pairs)
        actions[action.id] = action
        inputs = [int(t[0].get("id", "0")) for t in synapse.iterfind("inputs/trigger")]
        raw.append((int(synapse.get("id", "0")), action, inputs))
    return tuple(Synapse(sid, action, tuple(actions[i] for i in inputs))
                 for sid, action, inputs in raw)


def summary_section(path: Path, header: str) -> list[str]:
    """The lines of one section of a .summary file (up to the next blank line)."""
    lines = path.read_text().splitlines()
    start = lines.index(header) + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out
