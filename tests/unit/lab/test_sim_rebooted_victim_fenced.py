"""Issue 7, why bench/detect_latency.py must wait for an idle DC between its kills: the
DC it kills is fenced by the next DC even when the node has already booted again (the
bench boots its victim itself, at once). Pacemaker's scheduler reads a member whose
controller has not joined, and that is still expected up, as unclean ("peer process is no
longer available") and fences it; in the namespace lab that reboot landed in the bench's
next trial, where the fenced node was a survivor whose view the bench waited for (the
~2 s outliers of 2.48 and 2.59 s).

The simulator replays the lab's sequence with the fake clock: kill the DC, boot it again
before the next DC plans, and the next DC still asks for its reboot, after the boot."""

from __future__ import annotations

from pathlib import Path

from lab.sim.cluster import ControllerCluster

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"


def test_a_killed_dc_booted_again_at_once_is_still_fenced_by_the_next_dc() -> None:
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.devices.reboot_delay = 0.1  # the lab's nodes reboot within ~100 ms
    cluster.start_all()
    cluster.run_for(10.0)
    victim = cluster.dc()
    assert victim == "alpha" and cluster.controller("alpha").engine.finished
    killed = cluster.now
    cluster.kill(victim)
    cluster.run_for(1.0)  # in the lab: killed, declared dead, booted again within ~1.3 s
    booted = cluster.now
    cluster.revive(victim)  # what the bench's `lab start` did
    cluster.run_for(30.0)
    asked = [(at, target, action) for at, _dc, target, action in cluster.fence_requests]
    assert [(target, action) for _, target, action in asked] == [(victim, "reboot")]
    assert asked[0][0] > booted > killed, "the reboot was asked after the node came back"
    assert cluster.fenced == [victim]
    assert cluster.agreed() and victim in cluster.alive  # it came back after the reboot too
    assert cluster.dc() not in (None, victim) and cluster.violations == []
