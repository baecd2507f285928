"""Which DC the cib master hands its role to (`cib.replication_state.dc_of`): the member
that names itself DC, once no member names another; a member whose controller has not
named any DC yet (still starting at a cold boot) does not hold the handover back, as
Pacemaker's new DC makes its cib the primary when it takes over."""

from __future__ import annotations

import random

from cib.replication_state import dc_of
from tests.unit.cib.test_replication import Exchange, assert_converged

MEMBERS = {"n1": 1, "n2": 2, "n3": 3}


def test_a_dc_naming_itself_is_the_dc_although_a_member_names_nobody() -> None:
    assert dc_of({"n1": "n2", "n2": "n2", "n3": None}, MEMBERS) == "n2"
    assert dc_of({"n1": "n2", "n2": "n2"}, MEMBERS) == "n2"


def test_no_dc_while_the_claims_disagree_or_the_dc_does_not_name_itself() -> None:
    assert dc_of({"n1": "n2", "n2": "n2", "n3": "n3"}, MEMBERS) is None
    assert dc_of({"n1": "n2", "n2": None, "n3": "n2"}, MEMBERS) is None
    assert dc_of({"n1": None, "n2": None, "n3": None}, MEMBERS) is None
    assert dc_of({"n1": "n4", "n2": "n4", "n3": "n4"}, MEMBERS) is None


def test_the_master_moves_to_the_dc_before_the_last_controller_names_it() -> None:
    exchange, rng = Exchange(["n1", "n2", "n3"]), random.Random(5)
    exchange.settle(rng)
    exchange.set_dc("n2", "n2")
    exchange.set_dc("n1", "n2")  # n3's controller has not started: its cib names nobody
    exchange.write("n3", "a")
    exchange.settle(rng)
    assert {core.master for core in exchange.cores.values()} == {"n2"}
    exchange.set_dc("n3", "n2")
    exchange.write("n1", "b")
    exchange.settle(rng)
    assert {core.master for core in exchange.cores.values()} == {"n2"}
    assert exchange.acks == {"a": 0, "b": 0}
    assert_converged(exchange)
