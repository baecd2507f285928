"""crm_resource: the last command option wins; --move without -N bans the current node;
--move to where the resource already runs is refused (108).

Probe findings (tests/differential/probe_cli.py seeds 1, 11): ours refused "--move --ban"
(64; Pacemaker takes the last one) and "--move -r R" without a node (64; Pacemaker bans R
from the one node it is active on). Golden constraints are Pacemaker 2.1.5's crm_resource
on the CIB of test_resource_clone_child (CIB_file), read back with cibadmin.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from tests.unit.crmd.test_resource_clone_child import _crm_resource


def _constraints(tmp_path: Path, *args: str) -> list[dict[str, str]]:
    done = _crm_resource(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    root = etree.parse(str(tmp_path / "cib.xml")).getroot()
    return [dict(c.attrib) for c in root.iter("rsc_location")]


def test_ban_given_last_wins(tmp_path: Path) -> None:
    assert _constraints(tmp_path, "--move", "--ban", "-r", "d", "-N", "n2") == [
        {"id": "cli-ban-d-on-n2", "rsc": "d", "role": "Started", "node": "n2",
         "score": "-INFINITY"}]


def test_move_given_last_wins(tmp_path: Path) -> None:
    assert _constraints(tmp_path, "--ban", "--move", "-r", "d", "-N", "n2") == [
        {"id": "cli-prefer-d", "rsc": "d", "role": "Started", "node": "n2",
         "score": "INFINITY"}]


def test_move_without_node_bans_where_it_runs(tmp_path: Path) -> None:
    assert _constraints(tmp_path, "--move", "-r", "d") == [
        {"id": "cli-ban-d-on-n1", "rsc": "d", "role": "Started", "node": "n1",
         "score": "-INFINITY"}]


def test_move_to_the_node_it_runs_on_exits_108_unchanged(tmp_path: Path) -> None:
    """Probe finding (seed 27): ours added a cli-prefer constraint (rc 0); Pacemaker 2.1.5
    refuses with 108 and leaves the CIB alone (d resolves to d:0, active on n1 only)."""
    done = _crm_resource(tmp_path, "--move", "-r", "d", "-N", "n1")
    assert done.returncode == 108 and done.stderr
    root = etree.parse(str(tmp_path / "cib.xml")).getroot()
    assert list(root.iter("rsc_location")) == []


def test_utilization_sets_the_utilization_block(tmp_path: Path) -> None:
    """Probe finding (seed 39): ours had no --utilization (64). Golden: Pacemaker 2.1.5."""
    example = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
    done = _crm_resource(tmp_path, "-r", "app-data", "--utilization", "-p", "cpu", "-v", "2",
                         text=example.read_text())
    assert done.stdout == ("Set 'app-data' option: id=app-data-utilization-cpu "
                           "set=app-data-utilization name=cpu value=2\n")
    pair = etree.parse(str(tmp_path / "cib.xml")).getroot().find(
        ".//primitive[@id='app-data']/utilization/nvpair")
    assert pair is not None and (pair.get("name"), pair.get("value")) == ("cpu", "2")


def test_new_parameter_goes_to_the_rsc_named_set(tmp_path: Path) -> None:
    """Probe finding (seed 40): a new nvpair goes into "<rsc>-<set tag>" (created after the
    other children), not the first existing block, and "set=" is named whenever the nvpair
    is new. Golden: Pacemaker 2.1.5 on examples/cib-3node.xml."""
    example = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
    done = _crm_resource(tmp_path, "-r", "service-ip", "-p", "newp", "-v", "1",
                         text=example.read_text())
    assert done.stdout == ("Set 'service-ip' option: id=service-ip-instance_attributes-newp "
                           "set=service-ip-instance_attributes name=newp value=1\n")
    primitive = etree.parse(str(tmp_path / "cib.xml")).getroot().find(
        ".//primitive[@id='service-ip']")
    assert primitive is not None
    assert [(c.tag, c.get("id")) for c in primitive] == [
        ("instance_attributes", "service-ip-params"), ("operations", None),
        ("instance_attributes", "service-ip-instance_attributes")]


def test_constraints_of_a_group_member_are_its_groups(tmp_path: Path) -> None:
    """Probe finding (seed 32): Pacemaker 2.1.5 answers --constraints for a group member
    with its group's constraints (golden: its output on examples/cib-3node.xml)."""
    example = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
    done = _crm_resource(tmp_path, "--constraints", "-r", "app-data", text=example.read_text())
    assert done.stdout == (
        "Locations:\n  * Node gamma (score=-INFINITY, id=app-avoids-gamma, rsc=app)\n"
        "Resources app is colocated with:\n  * service-ip (score=INFINITY, id=app-with-ip)\n")
