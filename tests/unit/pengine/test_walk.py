"""pengine.walk: the order Pacemaker's ordering walk visits actions and orderings in.

Expected orders are Pacemaker 2.1.5's, read from Debian's `crm_simulate -VVVVVV` traces
(new_action's "Created ... action N" ids, pcmk__new_ordering's ordering ids): a group's
members' actions are created before the group's own pseudo actions, a clone's instances'
before the clone's; probes' orderings after each resource's internal ones, which come
after the user's constraints.
"""

from __future__ import annotations

from pengine.actions import OPTIONAL, RUNNABLE_LEFT, UNFENCE, Work
from pengine.order_links import PAIRED, Link
from pengine.sealed_actions import SettlingFlags
from pengine.walk import Shape, Walk, creation_order, ordering_age

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


def test_an_interleaved_pair_is_followed_once_its_first_instance_changes() -> None:
    # corpus clone_min_interleave_start_one, in Debian's crm_simulate -VVVVVV trace: the
    # interleaved FAKE2-clone running -> FAKE3-clone start creates FAKE2:0 start ->
    # FAKE3:0 start (update_interleaved_actions: order_actions); later the one-or-more
    # action makes FAKE2-clone start unrunnable, the clone passes that on to FAKE2:0
    # start, and FAKE2:0 start's followers are updated at once
    # (pcmk__multi_update_actions): FAKE3:0 start becomes unrunnable in the same walk.
    shape = Shape({"A": "clone", "B": "clone", "a:0": "primitive", "b:0": "primitive"},
                  {"a:0": ("A",), "b:0": ("B",), "A": (), "B": ()})
    gate, a_start, a_running = (_work(1, "one-or-more_start_0", None, None),
                                _work(2, "A_start_0", "A", None),
                                _work(3, "A_running_0", "A", None))
    a0_start, b_start, b0_start = (_work(4, "a:0_start_0", "a:0"),
                                   _work(5, "B_start_0", "B", None),
                                   _work(6, "b:0_start_0", "b:0"))
    gate.runnable = False
    left = frozenset({RUNNABLE_LEFT})
    links = [Link(gate, a_start, left), Link(gate, a0_start, left, via=a_start),
             Link(a_running, b_start, left, origin=2),
             Link(a0_start, b0_start, left | {PAIRED}, via=b_start, origin=2)]
    flags = SettlingFlags([gate, a_start, a_running, a0_start, b_start, b0_start])

    def apply(link: Link) -> None:
        if not flags.runnable[link.first.id]:
            flags.runnable[link.then.id] = False

    walk = Walk(links, flags, apply, shape, lambda act, walk: None, lambda act: None,
                lambda act: None, lambda link: False)
    walk.update(b_start)  # pairs the instances: nothing to pass on yet
    walk.update(a_start)
    assert not flags.runnable[a0_start.id]
    assert not flags.runnable[b0_start.id]
