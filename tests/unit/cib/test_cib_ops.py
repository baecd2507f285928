"""The CIB operations' version rules and refusals (values observed with Pacemaker 2.1.5's
cibadmin on the same inputs, recorded in the comments)."""

from __future__ import annotations

import pytest

from cib.errors import NoSuchObject, ObjectExists, OldUpdate, SchemaViolation, Unsafe
from cib.model import version_of
from cib.ops import perform
from cib.patch import apply_patchset
from cib.request import Op, Request
from cib.xmlio import element_text, parse

BASE = parse(
    '<cib epoch="3" num_updates="5" admin_epoch="0" validate-with="pacemaker-3.9" '
    'crm_feature_set="3.16.1"><configuration><crm_config/><nodes><node id="1" uname="n1"/>'
    '</nodes><resources><primitive id="d1" class="ocf" provider="pacemaker" type="Dummy"/>'
    '</resources><constraints/></configuration><status/></cib>')
DUMMY = '<primitive id="d2" class="ocf" provider="pacemaker" type="Dummy"/>'


def _run(op: Op, data: str | None = None, **options: object) -> tuple[int, int, int]:
    request = Request(op, parse(data) if data else None, **options)  # type: ignore[arg-type]
    return tuple(version_of(perform(BASE, request).cib))  # type: ignore[return-value]


def test_configuration_change_bumps_epoch_and_zeroes_num_updates() -> None:
    assert _run(Op.CREATE, DUMMY, scope="resources") == (0, 4, 0)


def test_status_change_bumps_num_updates_only() -> None:
    assert _run(Op.CREATE, '<node_state id="1" uname="n1"/>', scope="status") == (0, 3, 6)


def test_root_attribute_change_is_not_a_configuration_change() -> None:
    assert _run(Op.MODIFY, '<cib admin_epoch="admin_epoch++"/>') == (1, 3, 6)
    assert _run(Op.BUMP) == (0, 4, 6)


def test_modify_allow_create_copies_the_object_in_without_an_epoch_bump() -> None:
    assert _run(Op.MODIFY, DUMMY, scope="resources", allow_create=True) == (0, 3, 6)


def test_erase_bumps_admin_epoch_and_epoch() -> None:
    assert _run(Op.ERASE, force=True) == (1, 4, 0)


def test_a_change_to_nothing_keeps_the_version_and_the_tree() -> None:
    outcome = perform(BASE, Request(Op.DELETE, parse('<primitive id="absent"/>')))
    assert outcome.patch is None and outcome.cib is BASE


class _Counting:
    """A validator that counts its calls (and accepts every tree)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, cib: object) -> None:
        self.calls += 1


@pytest.mark.parametrize(("data", "scope", "validations"), [
    ('<cib validate-with="pacemaker-3.9"/>', None, 0),  # the value it has: no change
    ('<cib have-quorum="1"/>', None, 1),  # a root attribute changes: checked
    (DUMMY, "resources", 1),
])
def test_a_write_that_changes_nothing_is_not_validated_again(
        data: str, scope: str | None, validations: int) -> None:
    validator = _Counting()
    op = Op.CREATE if scope else Op.MODIFY
    perform(BASE, Request(op, parse(data), scope=scope), validator)
    assert validator.calls == validations


@pytest.mark.parametrize(("request_", "error"), [
    (Request(Op.CREATE, parse('<primitive id="d1" class="ocf" provider="pacemaker" '
                              'type="Dummy"/>'), scope="resources"), ObjectExists),
    (Request(Op.MODIFY, parse('<primitive id="absent" type="X"/>')), NoSuchObject),
    (Request(Op.QUERY, xpath="//nothing"), NoSuchObject),
    (Request(Op.CREATE, parse('<primitive id="d3"/>'), scope="resources"), SchemaViolation),
    (Request(Op.ERASE), Unsafe),
    (Request(Op.REPLACE, parse('<cib epoch="1" num_updates="0" admin_epoch="0"/>')), OldUpdate),
])
def test_refusals_leave_the_cib_unchanged(request_: Request, error: type[Exception]) -> None:
    before = element_text(BASE)
    with pytest.raises(error):
        perform(BASE, request_)
    assert element_text(BASE) == before


def test_the_patch_of_a_write_replays_it_on_a_replica() -> None:
    outcome = perform(BASE, Request(Op.CREATE, parse(DUMMY), scope="resources"))
    assert outcome.patch is not None
    replica = apply_patchset(BASE, outcome.patch)
    assert element_text(replica) == element_text(outcome.cib)
    with pytest.raises(OldUpdate):
        apply_patchset(outcome.cib, outcome.patch)
