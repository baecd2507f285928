"""`FencingAttempts.external`: which published fencing results the DC records itself
(Pacemaker's `tengine_stonith_notify`) and which it leaves alone, and the stonith cleanup
a new DC runs for a target fenced while there was no DC to record it."""

from __future__ import annotations

from crmd.fencing import FencingAttempts
from crmd.join import JoinPhase
from crmd.messages import DeleteCib, ModifyCib, NodeFenced

NODE_IDS = {"n1": "1", "n2": "2", "n3": "3"}


def _notice(target: str = "n3", action: str = "reboot", ok: bool = True,
            origin: str = "n2", client: str = "stonith_admin.7") -> NodeFenced:
    return NodeFenced(target, action, ok, origin, client, 5.0)


def _writes(effects: list[object]) -> list[object]:
    return [e for e in effects if isinstance(e, (ModifyCib, DeleteCib))]


def test_the_dc_writes_an_external_off_or_reboot_cleanly_down() -> None:
    for action in ("off", "reboot"):
        writes = _writes(FencingAttempts().external(_notice(action=action), "n1", "n1",
                                                     NODE_IDS, None))
        assert len(writes) == 3
        modify = writes[0]
        assert isinstance(modify, ModifyCib) and modify.section == "status"
        assert 'join="down"' in modify.xml and 'expected="down"' in modify.xml
        assert {w.xpath for w in writes[1:] if isinstance(w, DeleteCib)} == {
            "/cib/status/node_state[@id='3']/lrm",
            "/cib/status/node_state[@id='3']/transient_attributes"}


def test_nothing_for_failures_unfencing_unknown_nodes_itself_or_its_own_requests() -> None:
    ignored = [_notice(ok=False), _notice(action="on"), _notice(target="n9"),
               _notice(target="n1"), _notice(origin="n1", client="crmd")]
    for notice in ignored:
        assert FencingAttempts().external(notice, "n1", "n1", NODE_IDS, None) == [], notice


def test_another_nodes_controller_is_external_to_this_dc() -> None:
    notice = _notice(origin="n2", client="crmd")  # a former DC's request
    assert _writes(FencingAttempts().external(notice, "n1", "n1", NODE_IDS, None))


def test_a_non_dc_remembers_only_a_fenced_dc_for_its_own_takeover() -> None:
    attempts = FencingAttempts()
    assert attempts.external(_notice(target="n3"), "n1", "n2", NODE_IDS, None) == []
    assert attempts.fenced_dcs == set()  # n2, the DC, records it
    assert attempts.external(_notice(target="n2", origin="n3"), "n1", "n2", NODE_IDS,
                             None) == []
    assert attempts.external(_notice(target="n3"), "n1", None, NODE_IDS, None) == []
    assert attempts.fenced_dcs == {"n2", "n3"}


def test_the_cleanup_skips_nodes_that_joined_again_and_empties_the_list() -> None:
    from crmd.join import JoinCoordinator
    from crmd.timing import ControllerTiming

    coordinator = JoinCoordinator("n1", NODE_IDS, ControllerTiming().join)
    attempts = FencingAttempts(fenced_dcs={"n2", "n3"})
    effects = attempts.cleanup(NODE_IDS, coordinator, online={"n1", "n3"})
    modify = _writes(effects)[0]
    assert isinstance(modify, ModifyCib) and 'uname="n2"' in modify.xml
    assert len(_writes(effects)) == 3 and attempts.fenced_dcs == set()
    assert coordinator.expected["n2"] == "down"
    assert coordinator.phases["n2"] is JoinPhase.NONE
