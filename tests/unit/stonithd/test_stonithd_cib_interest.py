"""concerns_fencing: which v2 patchsets (the shape crm_diff prints) can change stonithd's
fencing configuration. A change stonithd reads must always be a concern (a missed fetch would
leave stale devices); only changes provably outside what load_config reads are not."""

from __future__ import annotations

import pytest

from stonithd.cib_interest import concerns_fencing

_HEAD = ('<diff format="2"><version><source admin_epoch="0" epoch="5" num_updates="0"/>'
         '<target admin_epoch="0" epoch="6" num_updates="0"/></version>'
         '<change operation="modify" path="/cib"><change-list>'
         '<change-attr name="epoch" operation="set" value="6"/></change-list>'
         '<change-result><cib admin_epoch="0" epoch="6" num_updates="0"/></change-result>'
         '</change>')
_SET = "/cib/configuration/crm_config/cluster_property_set[@id='opts']"


def _patch(*changes: str) -> str:
    return _HEAD + "".join(changes) + "</diff>"


def _modify_pair(name: str, attr: str = "value") -> str:
    return _patch(f'<change operation="modify" path="{_SET}/nvpair[@id=\'p1\']"><change-list>'
            f'<change-attr name="{attr}" operation="set" value="x"/></change-list>'
            f'<change-result><nvpair id="p1" name="{name}" value="x"/></change-result>'
            '</change>')


NOT_CONCERNS = {
    "root attributes only": _patch(),
    "another cluster option's value": _modify_pair("bench-w0"),
    "a new ordinary cluster option": _patch(
        f'<change operation="create" path="{_SET}" position="0">'
        '<nvpair id="p2" name="no-quorum-policy" value="stop"/></change>'),
    "status": _patch('<change operation="modify" path="/cib/status/node_state[@id=\'1\']">'
                     '<change-list><change-attr name="crmd" operation="set" value="online"/>'
                     '</change-list><change-result><node_state id="1" crmd="online"/>'
                     '</change-result></change>'),
    "rsc_defaults": _patch(
        '<change operation="create" path="/cib/configuration/rsc_defaults" position="0">'
        '<meta_attributes id="d"/></change>'),
}
CONCERNS = {
    "a stonith option's value": _modify_pair("stonith-timeout"),
    "an option renamed": _modify_pair("stonith-timeout", attr="name"),
    "a new stonith option": _patch(
        f'<change operation="create" path="{_SET}" position="0">'
        '<nvpair id="p2" name="stonith-action" value="off"/></change>'),
    "a cluster option deleted (only its id is named)": _patch(
        f'<change operation="delete" path="{_SET}/nvpair[@id=\'p1\']"/>'),
    "a resource": _patch(
        '<change operation="create" path="/cib/configuration/resources" position="0">'
        '<primitive id="f" class="stonith" type="fence_dummy"/></change>'),
    "a constraint": _patch(
        '<change operation="delete" path="/cib/configuration/constraints/'
        'rsc_location[@id=\'ban\']"/>'),
    "fencing topology": _patch(
        '<change operation="create" path="/cib/configuration/fencing-topology" position="0">'
        '<fencing-level id="l" index="1" target="n1" devices="f"/></change>'),
    "a node attribute": _patch(
        '<change operation="modify" path="/cib/configuration/nodes/node[@id=\'1\']">'
        '<change-list><change-attr name="uname" operation="set" value="n9"/></change-list>'
        '<change-result><node id="1" uname="n9"/></change-result></change>'),
    "a whole configuration": _patch(
        '<change operation="create" path="/cib" position="0"><configuration/></change>'),
    "not a patch": "<cib/>",
    "not XML": "<diff",
}


@pytest.mark.parametrize("name", sorted(NOT_CONCERNS))
def test_changes_outside_fencing_are_not_a_concern(name: str) -> None:
    assert concerns_fencing(NOT_CONCERNS[name]) is False


@pytest.mark.parametrize("name", sorted(CONCERNS))
def test_changes_fencing_reads_or_cannot_rule_out_are_a_concern(name: str) -> None:
    assert concerns_fencing(CONCERNS[name]) is True
