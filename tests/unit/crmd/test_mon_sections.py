"""crm_mon --include/--exclude (probe6 finding: ours rejected both options with exit 64).

Golden outputs are Pacemaker 2.1.5's crm_mon on examples/cib-3node.xml (CIB_file), as
printed by Debian's /usr/sbin/crm_mon; "Last updated" (the wall clock) is left out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crmd.mon.sections import ALL, TEXT_DEFAULT, resolve, split_steps
from messaging.errors import UsageError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"


def test_steps_apply_left_to_right() -> None:
    assert resolve(TEXT_DEFAULT, [("include", "none"), ("include", "nodes")]) == {"nodes"}
    assert "nodes" not in resolve(TEXT_DEFAULT, [("exclude", "nodes")])
    assert resolve(ALL, [("exclude", "all")]) == frozenset()
    assert resolve(TEXT_DEFAULT, [("include", "all"), ("exclude", "summary")]) >= {"bans"}


def test_unknown_section_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match="bogus"):
        resolve(TEXT_DEFAULT, [("include", "nodes,bogus")])


def test_split_keeps_order_and_both_spellings() -> None:
    rest, steps = split_steps(["-1", "--include", "none", "--exclude=nodes", "-r"])
    assert rest == ["-1", "-r"]
    assert steps == [("include", "none"), ("exclude", "nodes")]


def _crm_mon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from crmd.mon.cli import main; main()",
                           "-1", *args], env={"CIB_file": str(EXAMPLE), "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60, check=False)


def test_include_none_then_nodes_prints_only_the_node_list() -> None:
    done = _crm_mon("--include=none", "--include=nodes")
    assert (done.returncode, done.stdout) == (0, "Node List:\n  * Online: [ alpha beta gamma ]\n")


def test_include_all_adds_operations_and_bans() -> None:
    lines = _crm_mon("--include=all").stdout.splitlines()
    assert lines[-4:] == ["Operations:", "", "Negative Location Constraints:",
                          "  * app-avoids-gamma\tprevents app from running on gamma"]


def test_include_none_prints_nothing() -> None:
    done = _crm_mon("--include=none")
    assert (done.returncode, done.stdout) == (0, "")


def test_bad_section_under_xml_is_an_xml_error_with_usage_code() -> None:
    done = _crm_mon("--output-as=xml", "--include=bogus")
    assert done.returncode == 64
    assert '<status code="64" message="Incorrect usage">' in done.stdout


def test_exclude_summary_in_xml_keeps_cluster_options() -> None:
    out = _crm_mon("--output-as=xml", "--exclude=summary").stdout
    assert "<cluster_options " in out and "<stack " not in out and "<nodes_configured" not in out


def test_group_by_node_xml_nests_active_resources_under_nodes(tmp_path: Path) -> None:
    """crm_mon --output-as=xml -n (probe finding, seeds 2 and 11). Golden ids are Pacemaker
    2.1.5's output on generated CIB seed 2: each node lists its active primitives in its
    history's order; <resources> keeps only what is not active everywhere."""
    from lxml import etree

    from tests.differential.generate import generate

    cib = tmp_path / "cib.xml"
    cib.write_text(generate(2).xml)
    done = subprocess.run([sys.executable, "-c", "from crmd.mon.cli import main; main()",
                           "-1", "--output-as=xml", "-n"], env={"CIB_file": str(cib),
                                                                 "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    root = etree.fromstring(done.stdout.encode())
    nested = {n.get("name"): [r.get("id") for r in n.findall("resource")]
              for n in root.find("nodes")}
    assert nested == {"node1": [], "node2": ["m2", "r10"], "node3": ["r11", "d13:1"]}
    assert [r.get("id") for r in root.find("resources")] == ["c12", "g1", "r5", "g6"]
