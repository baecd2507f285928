"""The CIB's dc-uuid names the DC that is idle, after boots where two DCs existed briefly.

Sixteen nodes boot with random offsets of up to 3 s (the lab's parallel boot, slowed): the
first ones form a partition and elect a DC before the rest have joined; the late ones,
hearing each other first, elect one of theirs, which writes dc-uuid, then meets the first
DC and steps down. Its dc-uuid write reaches the cib master after the winner's last one.
Pacemaker's DC writes dc-uuid again at the end of every join round (`do_dc_join_final`),
so once the DC is idle every copy names it, and crm_mon reads the right "Current DC".
The seeds are ones where the loser's write landed last (each failed before that rewrite).
"""

from __future__ import annotations

import random

import pytest
from lxml import etree

from crmd.fsa import FsaState
from crmd.mon.cli import build_view
from lab.sim.cib_replica import cib_text
from lab.sim.cluster import ControllerCluster, nodes_cib

NODES = [f"n{i}" for i in range(1, 17)]
BOOT_SPREAD_S = 3.0


def _staggered_boot(seed: int) -> ControllerCluster:
    cluster = ControllerCluster(nodes_cib(NODES), seed=seed)
    cluster.sim.add_nodes(cluster.names, boot=False)
    offsets = random.Random(seed)
    for name in cluster.names:
        cluster.sim.scheduler.call_at(offsets.uniform(0.0, BOOT_SPREAD_S),
                                      lambda name=name: cluster.sim.start(name))
    return cluster


def _dc_idle(cluster: ControllerCluster) -> bool:
    dc = cluster.dc()
    return cluster.agreed() and dc is not None and cluster.controller(dc).state is FsaState.IDLE


@pytest.mark.parametrize("seed", [2, 18])
def test_every_cib_copy_names_the_idle_dc_after_a_brief_second_dc(seed: int) -> None:
    cluster = _staggered_boot(seed)
    assert cluster.sim.run_until_true(lambda: _dc_idle(cluster), 30.0, step=0.01) is not None
    cluster.run_for(2.0)  # late writes, if any, have landed
    dc = cluster.dc()
    assert dc is not None and cluster.controller(dc).state is FsaState.IDLE
    dc_id = cluster.settings.node_ids()[dc]
    named = {node: etree.fromstring(cib_text(cluster.sim, node)).get("dc-uuid")
             for node in sorted(cluster.alive)}
    assert set(named.values()) == {dc_id}, (dc, named)
    assert build_view(etree.fromstring(cib_text(cluster.sim, dc))).status.dc == dc
