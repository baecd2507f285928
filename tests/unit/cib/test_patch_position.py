"""A change's `position` read as Pacemaker reads it, malformed ones included: what Debian's
cibadmin --patch (Pacemaker 2.1.5, CIB_file mode) did with each of these patches, recorded
by hand from that tool (exit code and the CIB afterwards): a create at "abc", "", "-5" or
beyond the children goes last, one at "1x" or "+1" at 1, one without a position first; a
move to "abc", "" or a negative position fails the whole patch (exit 1, "Application of
update diff failed", the CIB unchanged). None of them may escape as a ValueError."""

from __future__ import annotations

import pytest
from lxml import etree

from cib.errors import PatchFailed
from cib.patch import apply_patchset

CIB = ('<cib epoch="5" num_updates="2" admin_epoch="0"><configuration><resources>'
       '<primitive id="d1"/><group id="g"><primitive id="g1"/><primitive id="g2"/></group>'
       '</resources></configuration></cib>')
VERSION = ('<version><source admin_epoch="0" epoch="5" num_updates="2"/>'
           '<target admin_epoch="0" epoch="6" num_updates="0"/></version>')
RESOURCES = "/cib/configuration/resources"


def _patch(change: str) -> etree._Element:
    return etree.fromstring(f'<diff format="2">{VERSION}{change}</diff>')


def _create(position: str | None) -> etree._Element:
    where = "" if position is None else f' position="{position}"'
    return _patch(f'<change operation="create" path="{RESOURCES}"{where}>'
                  '<primitive id="p9"/></change>')


def _ids(cib: etree._Element) -> list[str | None]:
    return [child.get("id") for child in cib.find("configuration/resources")]


@pytest.mark.parametrize(("position", "order"), [
    ("abc", ["d1", "g", "p9"]), ("", ["d1", "g", "p9"]), ("-5", ["d1", "g", "p9"]),
    ("-1", ["d1", "g", "p9"]), ("99999999999", ["d1", "g", "p9"]),
    ("1x", ["d1", "p9", "g"]), ("+1", ["d1", "p9", "g"]), (" 1", ["d1", "p9", "g"]),
    (None, ["p9", "d1", "g"]), ("0", ["p9", "d1", "g"]),
])
def test_a_create_goes_where_pacemaker_puts_it(position: str | None, order: list[str]) -> None:
    result = apply_patchset(etree.fromstring(CIB), _create(position), check=False)
    assert _ids(result) == order


@pytest.mark.parametrize("position", ["abc", "", "-1", "-5"])
def test_a_move_to_no_position_fails_the_patch_naming_it(position: str) -> None:
    move = _patch(f'<change operation="move" path="{RESOURCES}/group[@id=\'g\']" '
                  f'position="{position}"/>')
    with pytest.raises(PatchFailed, match=r"could not move .*group\[@id='g'\]"):
        apply_patchset(etree.fromstring(CIB), move, check=False)


@pytest.mark.parametrize("position", ["abc", "", "1x"])
def test_a_delete_with_a_malformed_position_still_deletes(position: str) -> None:
    delete = _patch(f'<change operation="delete" path="{RESOURCES}/group[@id=\'g\']/'
                    f'primitive[@id=\'g2\']" position="{position}"/>')
    result = apply_patchset(etree.fromstring(CIB), delete, check=False)
    assert [child.get("id") for child in result.find("configuration/resources/group")] \
        == ["g1"]


def _delete(path: str, position: int) -> etree._Element:
    return _patch(f'<change operation="delete" path="{RESOURCES}/{path}" '
                  f'position="{position}"/>')


@pytest.mark.parametrize("position", [0, 1, 5])
@pytest.mark.parametrize(("path", "left"), [
    ("group[@id='g']/primitive[@id='g2']", ["g1"]), ("group[@id='g']/primitive", ["g2"])])
def test_a_delete_of_an_element_ignores_its_position(path: str, left: list[str],
                                                      position: int) -> None:
    """Debian's tool deleted g2, or the first primitive, at every one of these positions."""
    result = apply_patchset(etree.fromstring(CIB), _delete(path, position), check=False)
    assert [child.get("id") for child in result.find("configuration/resources/group")] \
        == left


@pytest.mark.parametrize(("position", "comments_left"), [(0, 0), (1, 1)])
def test_a_delete_of_a_comment_takes_its_position(position: int, comments_left: int) -> None:
    """Debian's tool deleted the comment at position 0 (it is the first child) and kept it
    for position 1."""
    cib = etree.fromstring(CIB.replace('<primitive id="d1"/>', '<!-- note --><primitive id="d1"/>'))
    result = apply_patchset(cib, _delete("comment", position), check=False)
    comments = [node for node in result.find("configuration/resources")
                if isinstance(node, etree._Comment)]
    assert len(comments) == comments_left
    assert _ids(result)[-2:] == ["d1", "g"]


@pytest.mark.parametrize(("dropped", "position"), [(0, "1"), (1, "3")])
def test_a_deleted_comment_replays_from_our_own_diff(dropped: int, position: str) -> None:
    """create_patchset names a deleted comment as Debian's crm_diff does (".../comment" at
    position 1 for the first of these two, 3 for the second), and applying that diff
    deletes it (a replica's copy then matches the master's)."""
    from cib.diff import create_patchset

    old = etree.fromstring('<cib epoch="1" num_updates="0" admin_epoch="0"><configuration>'
                           '<resources><primitive id="a"/><!-- x --><primitive id="b"/>'
                           '<!-- y --></resources></configuration></cib>')
    new = etree.fromstring(etree.tostring(old))
    new.set("epoch", "2")
    resources = new.find("configuration/resources")
    resources.remove([node for node in resources if isinstance(node, etree._Comment)][dropped])
    patch = create_patchset(old, new)
    delete = patch.find("change[@operation='delete']")
    assert (delete.get("path"), delete.get("position")) == (f"{RESOURCES}/comment", position)
    result = apply_patchset(old, patch, check=True)
    assert etree.tostring(result) == etree.tostring(new)
