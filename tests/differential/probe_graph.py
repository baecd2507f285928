"""Differential probe of the transition graph: Debian's `crm_simulate -G` against ours.

On each seed's generated CIB (tests.differential.generate) Debian's crm_simulate writes the
graph with `-x CIB -G FILE`; ours is `pengine.graph_xml.to_xml` of `pengine.api.schedule`,
what our `crm_simulate -S -G FILE` writes. The graphs are compared synapse by synapse after
normalising only what must differ: synapse and action ids (numbering is each scheduler's
own), so an action is named by its element, operation_key and node, and a synapse's inputs
by the names of their actions. Everything else is compared: the transition_graph header,
each synapse's priority, the action element's attributes, its resource element and its
<attributes> block (every CRM_meta_* and parameter), and the set of inputs.

A difference is reported as a class (what differs, on which operation) so that the seeds a
fix would help can be counted: `python -m tests.differential.probe_graph FIRST LAST
[--jobs N] [--show]` prints the seeds whose graphs differ (with --show, every class per seed),
then the table of classes (seeds showing each) and the number of identical graphs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from lxml import etree

from tests.differential.generate import generate
from tests.oracle import pacemaker_tool

Name = tuple[str, str, str, str]  # element tag, operation_key, node ("" for none), operation
_IDS = ("id",)


def _name(element: etree._Element) -> Name:
    return (element.tag, element.get("operation_key") or "", element.get("on_node") or "",
            element.get("operation") or "")


def _operation(name: Name) -> str:
    """The class an action falls in: its element and operation (probes apart), so that a
    class does not depend on resource or node names."""
    tag, key, _node, operation = name
    if operation == "monitor" and key.endswith("_0"):
        return f"{tag}:probe"
    return f"{tag}:{operation}"


class Action:
    """One synapse, normalised: its action's attributes, children and input names."""

    def __init__(self, synapse: etree._Element) -> None:
        element = synapse.find("action_set")[0]
        self.name = _name(element)
        self.priority = synapse.get("priority")
        self.attrs = {k: v for k, v in element.attrib.items() if k not in _IDS}
        block = element.find("attributes")
        self.meta = dict(block.attrib) if block is not None else {}
        rsc = element.find("primitive")
        self.resource = dict(rsc.attrib) if rsc is not None else None
        self.inputs = frozenset(_name(trigger[0]) for trigger in synapse.iterfind("inputs/trigger"))


def actions(graph: etree._Element) -> dict[Name, Action]:
    return {action.name: action for action in map(Action, graph.iterfind("synapse"))}


def _attribute_classes(where: str, theirs: dict[str, str], ours: dict[str, str]
                       ) -> Iterator[str]:
    for key in sorted(theirs.keys() | ours.keys()):
        if key not in ours:
            yield f"{where} lacks {key} ({theirs[key]})" if key in ("operation",) \
                else f"{where} lacks {key}"
        elif key not in theirs:
            yield f"{where} adds {key}"
        elif theirs[key] != ours[key]:
            yield f"{where} {key} differs"


def _action_classes(theirs: Action, ours: Action) -> Iterator[str]:
    where = _operation(theirs.name)
    yield from _attribute_classes(where, theirs.attrs, ours.attrs)
    yield from _attribute_classes(where, theirs.meta, ours.meta)
    if theirs.resource != ours.resource:
        yield f"{where} resource element differs"
    if theirs.priority != ours.priority:
        yield f"{where} priority differs"
    for name in theirs.inputs - ours.inputs:
        yield f"{where} lacks input {_operation(name)}"
    for name in ours.inputs - theirs.inputs:
        yield f"{where} adds input {_operation(name)}"


def differences(theirs: etree._Element, ours: etree._Element) -> list[str]:
    """The classes of difference between two graphs (empty: identical synapses)."""
    found: list[str] = list(_attribute_classes("transition_graph", dict(theirs.attrib),
                                               dict(ours.attrib)))
    their_actions, our_actions = actions(theirs), actions(ours)
    for name in their_actions.keys() - our_actions.keys():
        found.append(f"missing {_operation(name)}")
    for name in our_actions.keys() - their_actions.keys():
        found.append(f"extra {_operation(name)}")
    for name in their_actions.keys() & our_actions.keys():
        found.extend(_action_classes(their_actions[name], our_actions[name]))
    return sorted(set(found))


def their_graph(xml: str) -> etree._Element:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        raise RuntimeError("Debian's crm_simulate is not installed")
    with tempfile.TemporaryDirectory(prefix="probe-graph-") as tmp:
        cib, out = Path(tmp) / "cib.xml", Path(tmp) / "graph.xml"
        cib.write_text(xml)
        subprocess.run([tool, "-x", str(cib), "-G", str(out)], capture_output=True,
                       timeout=120, check=False,
                       env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin", "CIB_shadow_dir": tmp})
        return etree.parse(str(out)).getroot()


def our_graph(xml: str) -> etree._Element:
    from pengine import graph_xml
    from pengine.api import schedule

    return etree.fromstring(graph_xml.to_xml(schedule(xml)).encode())


def compare_seed(seed: int) -> tuple[int, list[str]]:
    xml = generate(seed).xml
    try:
        ours = our_graph(xml)
    except Exception as exc:  # a crash of ours is a difference of its own
        return seed, [f"ours raised {type(exc).__name__}"]
    return seed, differences(their_graph(xml), ours)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    first, last = int(args[0]), int(args[1])
    jobs = int(args[args.index("--jobs") + 1]) if "--jobs" in args else 2
    if pacemaker_tool("crm_simulate") is None:
        print("Debian's crm_simulate is not installed", file=sys.stderr)
        return 69
    seeds = range(first, last + 1)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = sorted(pool.map(compare_seed, seeds))
    classes: Counter[str] = Counter()
    for seed, found in results:
        classes.update(found)
        if found:
            print(f"DIFF seed={seed}" + ("".join(f"\n  {c}" for c in found)
                                          if "--show" in args else f" {len(found)} classes"))
    print(f"{'seeds':>6}  class")
    for name, count in sorted(classes.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{count:>6}  {name}")
    same = sum(1 for _seed, found in results if not found)
    print(f"identical graphs: {same}/{len(results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
