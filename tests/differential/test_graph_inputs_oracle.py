"""The transition graph's inputs and keys as Debian's `crm_simulate -S -G` writes them.

Seeds 10 and 23 of tests/differential end "Transition failed: terminated": a graph action
waits for a required action left out of the graph, which Pacemaker keeps as a trigger (a
held input). Ours must write the same triggers, and `internal_operation_key` (the
scheduler's own key of an anonymous instance's action, `d11:0_monitor_0` under
`d11_monitor_0`) wherever Pacemaker does. The expected values are read from Debian's graph.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.differential.generate import generate
from tests.oracle import pacemaker_tool

pytestmark = pytest.mark.oracle

Key = tuple[str | None, str | None]


def _graph(tool: str, cib: Path, out: Path) -> etree._Element:
    subprocess.run([tool, "-x", str(cib), "-S", "-G", str(out)], capture_output=True,
                   timeout=120, check=False)
    return etree.parse(str(out)).getroot()


def _key(element: etree._Element) -> Key:
    return element.get("operation_key"), element.get("on_node")


def _held(graph: etree._Element) -> set[tuple[Key, Key]]:
    """(action, trigger) pairs whose trigger is no synapse's action."""
    in_graph = {element.get("id") for element in graph.iterfind("synapse/action_set/*")}
    return {(_key(synapse.find("action_set")[0]), _key(trigger[0]))
            for synapse in graph.iterfind("synapse")
            for trigger in synapse.iterfind("inputs/trigger")
            if trigger[0].get("id") not in in_graph}


def _internal_keys(graph: etree._Element) -> dict[Key, str | None]:
    return {_key(element): element.get("internal_operation_key")
            for element in graph.iterfind("synapse/action_set/*")}


def _graphs(seed: int, tmp_path: Path) -> tuple[etree._Element, etree._Element]:
    """Debian's and our graph of the seed's CIB."""
    theirs_tool = pacemaker_tool("crm_simulate")
    if theirs_tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    cib = tmp_path / "cib.xml"
    cib.write_text(generate(seed).xml)
    ours = str(Path(sys.executable).parent / "crm_simulate")
    return (_graph(theirs_tool, cib, tmp_path / "theirs.xml"),
            _graph(ours, cib, tmp_path / "ours.xml"))


# seed 23: c6_start_0 (a clone of groups) is required because a group instance's member
# start is, and waits on c2_confirmed-post_notify_running_0, which is not in the graph
# (that confirmation reads c2's group instances' running actions, clone_child_action)
@pytest.mark.parametrize("seed", [10, 23])
def test_graph_keeps_held_inputs_like_pacemaker(seed: int, tmp_path: Path) -> None:
    theirs, ours = _graphs(seed, tmp_path)
    assert _held(theirs) and _held(ours) == _held(theirs)


# seed 10: anonymous instances' probes and starts; seed 13: the pseudo stop of an instance
# on a fenced node (d2_stop_0, internal d2:1_stop_0)
@pytest.mark.parametrize("seed", [10, 13])
def test_graph_writes_internal_operation_keys_like_pacemaker(seed: int,
                                                             tmp_path: Path) -> None:
    theirs, ours = _graphs(seed, tmp_path)
    their_keys, our_keys = _internal_keys(theirs), _internal_keys(ours)
    both = their_keys.keys() & our_keys.keys()
    assert any(their_keys[key] for key in both)
    assert {key: our_keys[key] for key in both} == {key: their_keys[key] for key in both}


def test_graph_names_load_stopped_by_its_node_like_pacemaker(tmp_path: Path) -> None:
    """A placement strategy's load_stopped_<node> pseudo action: operation and key alike."""
    theirs, ours = _graphs(10, tmp_path)

    def operations(graph: etree._Element) -> dict[Key, str | None]:
        return {_key(e): e.get("operation") for e in graph.iterfind("synapse/action_set/*")
                if (e.get("operation_key") or "").startswith("load_stopped_")}

    assert operations(theirs) and operations(ours) == operations(theirs)


# the meta a clone adds to its own and its members' actions, a resource pseudo action's
# timeout, a recurring monitor's role
_META = ("CRM_meta_clone", "CRM_meta_clone_max", "CRM_meta_clone_node_max",
         "CRM_meta_globally_unique", "CRM_meta_notify", "CRM_meta_promoted_max",
         "CRM_meta_promoted_node_max", "CRM_meta_master_max", "CRM_meta_master_node_max",
         "CRM_meta_timeout", "CRM_meta_role")


def _meta(graph: etree._Element) -> dict[Key, dict[str, str | None]]:
    found = {}
    for element in graph.iterfind("synapse/action_set/*"):
        block = element.find("attributes")
        if block is not None and element.get("operation") != "cancel":
            found[_key(element)] = {name: block.get(name) for name in _META}
    return found


# seed 1: a cloned group and a promotable clone; seed 5: an anonymous clone
@pytest.mark.parametrize("seed", [1, 5])
def test_graph_writes_clone_meta_like_pacemaker(seed: int, tmp_path: Path) -> None:
    theirs, ours = _graphs(seed, tmp_path)
    their_meta, our_meta = _meta(theirs), _meta(ours)
    both = their_meta.keys() & our_meta.keys()
    assert any(their_meta[key]["CRM_meta_clone_max"] for key in both)
    assert {key: our_meta[key] for key in both} == {key: their_meta[key] for key in both}


def _priorities(graph: etree._Element) -> dict[Key, str | None]:
    return {_key(synapse.find("action_set")[0]): synapse.get("priority")  # type: ignore[index]
            for synapse in graph.iterfind("synapse")}


# seed 1: clones' completion actions (INFINITY); seed 5: resources with a priority
@pytest.mark.parametrize("seed", [1, 5])
def test_graph_synapse_priorities_like_pacemaker(seed: int, tmp_path: Path) -> None:
    theirs, ours = _graphs(seed, tmp_path)
    their_priority, our_priority = _priorities(theirs), _priorities(ours)
    both = their_priority.keys() & our_priority.keys()
    assert any(their_priority[key] for key in both)
    assert {k: our_priority[k] for k in both} == {k: their_priority[k] for k in both}


# seed 13: fencing with a node attribute (rack); seed 47: and a transient one (master-d4)
@pytest.mark.parametrize("seed", [13, 47])
def test_graph_fencing_attributes_like_pacemaker(seed: int, tmp_path: Path) -> None:
    theirs, ours = _graphs(seed, tmp_path)

    def fencing(graph: etree._Element) -> dict[Key, dict[str, str]]:
        return {_key(e): dict(e.find("attributes").attrib)  # type: ignore[union-attr]
                for e in graph.iterfind("synapse/action_set/crm_event")
                if e.get("operation") == "stonith"}

    assert fencing(theirs) and fencing(ours) == fencing(theirs)
