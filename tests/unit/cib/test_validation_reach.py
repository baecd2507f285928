"""What a write validates: only what its change can have made invalid (cib.ops).

The validator is injected (cib.ops.perform takes it), so the tests see which trees were
checked: nothing for a change inside the status section, the root alone for a change of
the root's attributes, the whole tree otherwise. Refusals keep the whole check's message.
Also the two shortcuts of the comparison a write makes: the patch built once, and the
sibling-key check (cib.diff.keys_unique) done by XPath.
"""

from __future__ import annotations

import pytest

from cib.diff import create_patchset
from cib.errors import SchemaViolation
from cib.ops import perform, schema_validator
from cib.request import Author, Op, Request
from cib.xmlio import Element, element_text, parse

CIB = ('<cib epoch="3" num_updates="5" admin_epoch="0" validate-with="{schema}" '
       'crm_feature_set="3.16.1" have-quorum="0"><configuration><crm_config/><nodes>'
       '<node id="1" uname="n1"/></nodes><resources><primitive id="d1" class="ocf" '
       'provider="pacemaker" type="Dummy"/></resources><constraints/></configuration>'
       '<status/></cib>')
BASE = parse(CIB.format(schema="pacemaker-3.9"))


class _Recording:
    """A validator that remembers what it was given (whether it held the resources) and
    then checks it against the schema, as the cib's own validator does."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, cib: Element) -> None:
        self.seen.append("whole" if cib.find("configuration/resources/primitive") is not None
                         else "root")
        schema_validator(cib)


def _write(request: Request, base: Element = BASE) -> list[str]:
    validator = _Recording()
    perform(base, request, validator)
    return validator.seen


def test_the_first_node_state_under_an_empty_status_is_not_validated() -> None:
    node_state = parse('<node_state id="1" uname="n1" in_ccm="true" crmd="online"/>')
    assert _write(Request(Op.CREATE, node_state, scope="status")) == []


def test_a_root_attribute_change_checks_the_root_alone() -> None:
    assert _write(Request(Op.MODIFY, parse('<cib have-quorum="1" dc-uuid="1"/>'))) == ["root"]


def test_a_change_of_validate_with_checks_the_whole_tree() -> None:
    assert _write(Request(Op.MODIFY, parse('<cib validate-with="pacemaker-3.8"/>'))) == ["whole"]


def test_a_configuration_change_checks_the_whole_tree() -> None:
    primitive = parse('<primitive id="d2" class="ocf" provider="pacemaker" type="Dummy"/>')
    assert _write(Request(Op.CREATE, primitive, scope="resources")) == ["whole"]


def test_a_root_change_under_pacemaker_1_0_checks_the_whole_tree() -> None:
    # pacemaker-1.0 defines the root's attributes apart from every later schema (cib-1.0.rng)
    old = parse(CIB.format(schema="pacemaker-1.0").replace(' crm_feature_set="3.16.1"', ""))
    assert _write(Request(Op.MODIFY, parse('<cib have-quorum="1"/>')), old) == ["whole"]


def test_an_invalid_root_attribute_is_refused_with_the_whole_check_message() -> None:
    before = element_text(BASE)
    with pytest.raises(SchemaViolation) as refused:
        perform(BASE, Request(Op.MODIFY, parse('<cib have-quorum="maybe"/>')))
    whole = parse(before.replace('have-quorum="0"', 'have-quorum="maybe"'))
    with pytest.raises(SchemaViolation) as direct:
        schema_validator(whole)
    assert str(refused.value) == str(direct.value)
    assert "have-quorum" in str(refused.value) or "/cib" in str(refused.value)
    assert element_text(BASE) == before


@pytest.mark.parametrize(("data", "scope"), [
    ('<primitive id="d2" class="ocf" provider="pacemaker" type="Dummy"/>', "resources"),
    ('<cib have-quorum="1"/>', None),
    ('<node_state id="1" uname="n1"/>', "status"),
])
def test_the_patch_is_the_one_a_whole_comparison_gives(data: str, scope: str | None) -> None:
    # the counters and the change stamp are folded into the first comparison's patch
    op = Op.CREATE if scope else Op.MODIFY
    outcome = perform(BASE, Request(op, parse(data), scope=scope), written="Sun Dec  6 2026",
                      author=Author("n1", "cibadmin", "root"))
    assert outcome.patch is not None
    whole = create_patchset(BASE, outcome.cib)
    assert whole is not None
    assert element_text(outcome.patch) == element_text(whole)


@pytest.mark.parametrize(("xml", "unique"), [
    ('<a><b id="1"/><c id="1"/><b id="2"/></a>', True),  # an id shared across tags
    ('<a><b id="1"/><!-- note --><b id="1"/></a>', False),  # same tag and id
    ('<a><x><b/><c/></x><x id="2"><b/><b/></x></a>', False),  # id-less, same tag
    ('<a><b/><!-- one element child --></a>', True),
    ('<a><s><b id="1"/><b id="2"/></s><t><b id="1"/><b id="2"/></t></a>', True),
])
def test_keys_are_unique_only_when_each_sibling_has_its_own(xml: str, unique: bool) -> None:
    # a comparison matches children by tag and id (or the first of a tag): shared keys
    # make a whole comparison see moves where nothing moved
    from cib.diff import keys_unique

    assert keys_unique(parse(xml)) is unique


def _with_status(base: Element) -> Element:
    """`base` with a node's resource history in its status section."""
    tree = parse(element_text(base))
    status = tree.find("status")
    assert status is not None
    status.append(parse('<node_state id="1" uname="n1"><lrm id="1"><lrm_resources>'
                        '<lrm_resource id="d1" type="Dummy" class="ocf"><lrm_rsc_op '
                        'id="d1_last_0" operation="start" rc-code="0"/></lrm_resource>'
                        "</lrm_resources></lrm></node_state>"))
    return tree


class _StatusSeen:
    def __init__(self) -> None:
        self.histories: list[int] = []

    def __call__(self, cib: Element) -> None:
        self.histories.append(len(cib.findall("status/node_state")))
        schema_validator(cib)


def test_a_configuration_change_is_validated_without_the_status_histories() -> None:
    """Every schema takes anything in <status> (status-1.0.rng), so the check leaves the
    histories out, and the result still holds them."""
    base = _with_status(BASE)
    validator = _StatusSeen()
    primitive = parse('<primitive id="d2" class="ocf" provider="pacemaker" type="Dummy"/>')
    outcome = perform(base, Request(Op.CREATE, primitive, scope="resources"), validator)
    assert validator.histories == [0]
    assert element_text(outcome.cib.find("status")) == element_text(base.find("status"))


def test_a_refused_configuration_change_says_what_the_whole_check_says() -> None:
    base = _with_status(BASE)
    before = element_text(base)
    bad = parse('<primitive id="d2" class="ocf" provider="pacemaker"/>')  # no type
    with pytest.raises(SchemaViolation) as refused:
        perform(base, Request(Op.CREATE, bad, scope="resources"))
    whole = parse(before.replace("</resources>", element_text(bad) + "</resources>"))
    with pytest.raises(SchemaViolation) as direct:
        schema_validator(whole)
    assert str(refused.value) == str(direct.value) and "primitive" in str(refused.value)
    assert element_text(base) == before


def test_an_invalid_status_section_is_still_no_reason_to_refuse() -> None:
    """What Pacemaker's schemas accept inside <status> (here an element no status schema
    names, with an id shared with a resource) passes with or without the histories."""
    base = _with_status(BASE)
    status = base.find("status")
    assert status is not None
    status.append(parse('<anything id="d1" x="y"><deeper/></anything>'))
    schema_validator(base)  # the whole tree passes Pacemaker's schema
    primitive = parse('<primitive id="d2" class="ocf" provider="pacemaker" type="Dummy"/>')
    outcome = perform(base, Request(Op.CREATE, primitive, scope="resources"))
    assert outcome.cib.find("status/anything") is not None
