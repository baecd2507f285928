"""The attribute manager's core: values shared by all nodes, written by one writer, dampened,
and landing in the status section in Pacemaker's shape (controller.md §1.6)."""

from __future__ import annotations

from cib.attrd import (
    RETRY_DELAY,
    AttrdCore,
    AttrdView,
    AttributeUpdate,
    LocalRefresh,
    LocalUpdate,
    PeerRequest,
    PeerUpdate,
    RefreshRequest,
    Shared,
    SyncRequest,
    WriteAttribute,
    WriteDone,
    expand_value,
    write_requests,
)
from cib.model import empty_cib
from cib.ops import perform
from messaging.effects import ArmTimer, Node, Send, TimerFired

MEMBERS = ((1, "n1"), (2, "n2"), (3, "n3"))


def _cluster() -> dict[str, AttrdCore]:
    cores = {name: AttrdCore(name) for _, name in MEMBERS}
    for core in cores.values():
        core.handle(AttrdView(0.0, 1, MEMBERS))
    return cores


def _spread(cores: dict[str, AttrdCore], origin: str, effects: list[object],
            now: float = 0.0) -> list[WriteAttribute]:
    writes = [effect for effect in effects if isinstance(effect, WriteAttribute)]
    for effect in effects:
        if isinstance(effect, Send) and isinstance(effect.message, Shared):
            more = cores[effect.destination.name].handle(
                PeerUpdate(now, origin, effect.message.view, effect.message.update))
            writes += [item for item in more if isinstance(item, WriteAttribute)]
    return writes


def test_value_plus_plus_expands_against_the_current_value() -> None:
    assert expand_value("value++", None) == "1"
    assert expand_value("value++", "4") == "5"
    assert expand_value("value+=10", "INFINITY") == "1000000"
    assert expand_value("7", "4") == "7"


def test_every_node_learns_an_update_and_only_the_writer_writes() -> None:
    cores = _cluster()
    effects = cores["n3"].handle(LocalUpdate(0.0, AttributeUpdate("fail-count-d1#monitor_10000",
                                                                  "n3", "value++")))
    writes = _spread(cores, "n3", effects)
    assert all(core.values["fail-count-d1#monitor_10000"] == {"n3": "1"}
               for core in cores.values())
    assert len(writes) == 1  # n1, the lowest id, is the writer
    cib = empty_cib()
    for request in writes[0].requests:
        cib = perform(cib, request.request()).cib
    pair = cib.find("status/node_state/transient_attributes/instance_attributes/nvpair")
    assert pair is not None
    assert (pair.get("id"), pair.get("name"), pair.get("value")) == (
        "status-3-fail-count-d1.monitor_10000", "fail-count-d1#monitor_10000", "1")
    assert cib.find("status/node_state").get("id") == "3"


def test_dampening_coalesces_changes_into_one_write() -> None:
    cores = _cluster()
    writer = cores["n1"]
    first = writer.handle(LocalUpdate(0.0, AttributeUpdate("pingd", "n1", "100", dampen=5.0)))
    assert ArmTimer("write:pingd", 5.0) in first
    second = writer.handle(LocalUpdate(1.0, AttributeUpdate("pingd", "n1", "200", dampen=5.0)))
    assert not [effect for effect in second if isinstance(effect, (ArmTimer, WriteAttribute))]
    fired = writer.handle(TimerFired("write:pingd", 5.0))
    assert len(fired) == 1 and isinstance(fired[0], WriteAttribute)
    assert '"200"' in (fired[0].requests[0].data or "")


def test_a_deleted_value_is_removed_from_the_status_section() -> None:
    cores = _cluster()
    cib = empty_cib()
    for value in ("on", None):
        effects = cores["n2"].handle(LocalUpdate(0.0, AttributeUpdate("standby", "n2", value)))
        for write in _spread(cores, "n2", effects):
            for request in write.requests:
                cib = perform(cib, request.request()).cib
            cores["n1"].handle(WriteDone(0.0, write.name, True))
    assert cib.find(".//nvpair") is None


def test_a_new_writer_writes_everything_it_knows() -> None:
    cores = _cluster()
    _spread(cores, "n2", cores["n2"].handle(LocalUpdate(0.0, AttributeUpdate("a", "n2", "1"))))
    survivors = ((2, "n2"), (3, "n3"))
    effects = cores["n2"].handle(AttrdView(1.0, 2, survivors))
    written = [effect for effect in effects if isinstance(effect, WriteAttribute)]
    assert [effect.name for effect in written if effect.name] == ["a"]
    forget = [effect for effect in written if not effect.name]  # n1 left: its attributes go
    assert [request.xpath for request in forget[0].requests] == [
        "/cib/status/node_state[@id='1']/transient_attributes"]


def _writes(effects: list[object]) -> list[WriteAttribute]:
    return [effect for effect in effects if isinstance(effect, WriteAttribute)]


def test_an_unchanged_value_is_not_written_again() -> None:
    writer = _cluster()["n1"]
    assert _writes(writer.handle(LocalUpdate(0.0, AttributeUpdate("a", "n1", "1"))))
    writer.handle(WriteDone(0.1, "a", True))
    assert not _writes(writer.handle(LocalUpdate(0.2, AttributeUpdate("a", "n1", "1"))))
    assert _writes(writer.handle(LocalUpdate(0.3, AttributeUpdate("a", "n1", "2"))))


def test_a_write_in_flight_holds_the_next_and_a_failed_write_is_retried() -> None:
    writer = _cluster()["n1"]
    assert _writes(writer.handle(LocalUpdate(0.0, AttributeUpdate("a", "n1", "1"))))
    assert not _writes(writer.handle(LocalUpdate(0.1, AttributeUpdate("a", "n1", "2"))))
    again = _writes(writer.handle(WriteDone(0.2, "a", True)))
    assert len(again) == 1 and '"2"' in (again[0].requests[0].data or "")
    assert writer.handle(WriteDone(0.3, "a", False)) == [ArmTimer("write:a", 0.3 + RETRY_DELAY)]
    assert not _writes(writer.handle(LocalUpdate(0.4, AttributeUpdate("a", "n1", "3"))))
    retried = _writes(writer.handle(TimerFired("write:a", 2.3)))
    assert len(retried) == 1 and '"3"' in (retried[0].requests[0].data or "")


def test_a_private_attribute_is_shared_but_never_written() -> None:
    cores = _cluster()
    effects = cores["n2"].handle(LocalUpdate(0.0, AttributeUpdate("p", "n2", "x", private=True)))
    assert not _spread(cores, "n2", effects)
    assert cores["n3"].value("p", "n2") == "x"


def test_a_starting_attrd_asks_for_everything_and_learns_it() -> None:
    cores = _cluster()
    _spread(cores, "n2", cores["n2"].handle(LocalUpdate(0.0, AttributeUpdate("a", "n3", "7"))))
    fresh = AttrdCore("n3")
    effects = fresh.handle(AttrdView(1.0, 1, MEMBERS))
    asks = [effect for effect in effects if isinstance(effect, Send)]
    assert {effect.destination.name for effect in asks} == {"n1", "n2"}
    assert all(effect.message == SyncRequest(1) for effect in asks)
    answers = cores["n1"].handle(PeerRequest(1.0, "n3", SyncRequest(1)))
    for answer in answers:
        assert isinstance(answer, Send) and isinstance(answer.message, Shared)
        fresh.handle(PeerUpdate(1.0, "n1", 1, answer.message.update))
    assert fresh.value("a", "n3") == "7"


def test_a_departed_node_takes_its_values_with_it() -> None:
    cores = _cluster()
    _spread(cores, "n3", cores["n3"].handle(LocalUpdate(0.0, AttributeUpdate("a", "n3", "1"))))
    cores["n2"].handle(AttrdView(1.0, 2, ((1, "n1"), (2, "n2"))))
    assert cores["n2"].value("a", "n3") is None


def test_a_refresh_goes_to_the_writer_which_writes_everything() -> None:
    cores = _cluster()
    _spread(cores, "n2", cores["n2"].handle(LocalUpdate(0.0, AttributeUpdate("a", "n2", "1"))))
    cores["n1"].handle(WriteDone(0.1, "a", True))
    asked = cores["n3"].handle(LocalRefresh(1.0))
    assert asked == [Send(Node("n1"), RefreshRequest(1))]
    written = cores["n1"].handle(PeerRequest(1.0, "n3", RefreshRequest(1)))
    assert [effect.name for effect in _writes(written)] == ["a"]


def test_node_state_ids_are_the_given_uuids_and_stay_across_views() -> None:
    uuids = (("n1", "uuid-a"), ("n2", "uuid-b"), ("n3", "uuid-c"))
    cores = {name: AttrdCore(name) for _, name in MEMBERS}
    for core in cores.values():
        core.handle(AttrdView(0.0, 1, MEMBERS, uuids))
    _spread(cores, "n1", cores["n1"].handle(LocalUpdate(0.0, AttributeUpdate("a", "n3", "1"))))
    effects = cores["n2"].handle(AttrdView(1.0, 2, ((1, "n2"), (2, "n3"))))  # n1 left
    forget, write = _writes(effects)[0], _writes(effects)[1]
    assert forget.requests[0].xpath == "/cib/status/node_state[@id='uuid-a']/transient_attributes"
    assert 'id="uuid-c"' in (write.requests[0].data or "")  # not n3's rank in the new view


def test_one_modify_holds_every_value_and_known_absent_values_are_not_deleted() -> None:
    writer = _cluster()["n1"]
    first = _writes(writer.handle(LocalUpdate(0.0, AttributeUpdate("a", "n2", "1"))))[0]
    # the CIB is unknown yet: the old values of n1 and n3 go, in one request (one write)
    assert [r.op for r in first.requests] == ["modify", "delete"]
    writer.handle(WriteDone(0.1, "a", True))
    second = _writes(writer.handle(LocalUpdate(0.2, AttributeUpdate("a", "n3", "2"))))[0]
    assert [r.op for r in second.requests] == ["modify"]  # n1 is known to have no value
    cib = empty_cib()  # holding every node's value of a previous boot
    for request in write_requests("a", {"1": "old", "2": "old", "3": "old"}, []):
        cib = perform(cib, request.request()).cib
    for request in first.requests:
        cib = perform(cib, request.request()).cib
    assert {(pair.get("id"), pair.get("value")) for pair in cib.iter("nvpair")} == {
        ("status-2-a", "1")}
    for request in second.requests:
        cib = perform(cib, request.request()).cib
    assert {(pair.get("id"), pair.get("value")) for pair in cib.iter("nvpair")} == {
        ("status-2-a", "1"), ("status-3-a", "2")}
    writer.handle(WriteDone(0.3, "a", True))
    third = _writes(writer.handle(LocalUpdate(0.4, AttributeUpdate("a", "n2", None))))[0]
    assert [r.op for r in third.requests] == ["modify", "delete"]  # n2's value goes


def test_a_named_set_holds_the_attribute_and_is_the_one_given_first() -> None:
    # Pacemaker's attrd takes an attribute's set (attrd_updater -s) when it creates the
    # attribute and writes <instance_attributes id=SET><nvpair id="SET-name">.
    cores = _cluster()
    writes = _spread(cores, "n3", cores["n3"].handle(
        LocalUpdate(0.0, AttributeUpdate("maint#x", "n3", "1", set_id="my-set"))))
    cib = empty_cib()
    for request in writes[0].requests:
        cib = perform(cib, request.request()).cib
    done = cores["n1"].handle(WriteDone(0.1, "maint#x", True))
    assert not done
    later = _spread(cores, "n2", cores["n2"].handle(
        LocalUpdate(0.2, AttributeUpdate("maint#x", "n2", "2", set_id="other"))))
    for request in later[0].requests:
        cib = perform(cib, request.request()).cib
    found = {(state.get("id"), sets.get("id"), pair.get("id"), pair.get("value"))
             for state in cib.iter("node_state")
             for sets in state.iter("instance_attributes") for pair in sets}
    assert found == {("3", "my-set", "my-set-maint.x", "1"), ("2", "my-set", "my-set-maint.x", "2")}
