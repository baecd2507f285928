"""attrd's writer is the DC's node, as crmd names it (`DcKnown`, like crmd tells its cib),
so transient attributes are written where the master CIB is; without a DC in the view the
lowest member id writes, as before."""

from __future__ import annotations

from cib.attrd import AttrdCore, AttrdView, AttributeUpdate, DcKnown, LocalUpdate, WriteAttribute

MEMBERS = ((1, "n1"), (2, "n2"), (3, "n3"))


def _core(name: str) -> AttrdCore:
    core = AttrdCore(name)
    core.handle(AttrdView(0.0, 1, MEMBERS))
    return core


def _writes(effects: list[object]) -> list[str]:
    return [e.name for e in effects if isinstance(e, WriteAttribute)]


def test_without_a_dc_the_lowest_member_id_writes() -> None:
    assert {_core(name).writer for _, name in MEMBERS} == {"n1"}


def test_every_node_moves_the_writer_to_the_dc_named_by_its_crmd() -> None:
    cores = [_core(name) for _, name in MEMBERS]
    for core in cores:
        core.handle(DcKnown(1.0, "n3"))
    assert {core.writer for core in cores} == {"n3"}
    update = LocalUpdate(2.0, AttributeUpdate("pingd", "n2", "100"))
    assert _writes(cores[0].handle(update)) == [], "the fallback node no longer writes"
    assert _writes(cores[2].handle(update)) == ["pingd"]


def test_the_new_writer_writes_everything_it_knows_once() -> None:
    core = _core("n2")
    core.handle(LocalUpdate(0.5, AttributeUpdate("pingd", "n2", "100")))
    assert _writes(core.handle(DcKnown(1.0, "n2"))) == ["pingd"]
    assert _writes(core.handle(DcKnown(2.0, "n2"))) == [], "a repeated name changes nothing"


def test_a_dc_outside_the_view_or_no_dc_falls_back_to_the_lowest_id() -> None:
    core = _core("n2")
    core.handle(DcKnown(1.0, "n3"))
    core.handle(AttrdView(2.0, 2, ((1, "n1"), (2, "n2"))))
    assert core.writer == "n1"
    core.handle(DcKnown(3.0, "n2"))
    assert core.writer == "n2"
    core.handle(DcKnown(4.0, None))
    assert core.writer == "n1"
