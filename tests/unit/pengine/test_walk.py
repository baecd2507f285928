"""pengine.walk: the order Pacemaker's ordering walk visits actions and orderings in.

Expected orders are Pacemaker 2.1.5's, read from Debian's `crm_simulate -VVVVVV` traces
(new_action's "Created ... action N" ids, pcmk__new_ordering's ordering ids): a group's
members' actions are created before the group's own pseudo actions, a clone's instances'
before the clone's; probes' orderings after each resource's internal ones, which come
after the user's constraints.
"""

from __future__ import annotations

from pengine.actions import OPTIONAL, UNFENCE, Work
from pengine.order_links import Link
from pengine.walk import Shape, creation_order, ordering_age

SHAPE = Shape({"c": "clone", "g:0": "group", "m:0": "primitive", "r": "primitive"},
              {"g:0": ("c",), "m:0": ("g:0", "c"), "r": ()})


def _work(number: int, key: str, rsc: str | None, node: str | None = "n1") -> Work:
    return Work(number, key, key.rsplit("_", 2)[-2], rsc, node)


def test_collective_pseudo_actions_are_created_after_their_members() -> None:
    # ours: clone pseudo, group-instance pseudo, member action, then the next resource
    actions = [_work(1, "c_start_0", "c", None), _work(2, "g:0_start_0", "g:0", None),
               _work(3, "m:0_start_0", "m:0"), _work(4, "r_start_0", "r")]
    order = [act.key for act in creation_order(actions, SHAPE)]
    assert order == ["m:0_start_0", "g:0_start_0", "c_start_0", "r_start_0"]


def test_orderings_are_seen_probe_first_then_internal_then_user() -> None:
    probe, stop, start = _work(1, "r_monitor_0", "r"), _work(2, "r_stop_0", "r"), \
        _work(3, "r_start_0", "r")
    member_start = _work(4, "m:0_start_0", "m:0")
    links = {
        "probe": Link(probe, start, frozenset({OPTIONAL})),
        "chain": Link(member_start, start, frozenset({OPTIONAL})),
        "own": Link(stop, start, frozenset({OPTIONAL})),
        "user": Link(member_start, start, frozenset({"user"})),
        "unfence": Link(member_start, start, frozenset({UNFENCE})),
    }
    seen = sorted(links, key=lambda name: ordering_age(links[name]))
    assert seen == ["probe", "chain", "own", "user", "unfence"]
