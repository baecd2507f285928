"""Property: for any topology and any set of failing devices, the fencer runs exactly the
devices the rules say (levels in order, a level abandoned at its first failing device,
stop at the first level whose devices all succeed, a reboot through several devices as
off-all then on-all) and answers each client once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_stonithd_core import cib, device, fence_runs, result, script

from lab.sim.direct import fencing_simulation, request
from stonithd.api import FenceRequest

POOL = ("d1", "d2", "d3", "d4")
levels_strategy = st.lists(st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True),
                           min_size=1, max_size=4)


def expected_runs(levels: list[list[str]],
                  failing: set[str]) -> tuple[list[tuple[str, str]], bool]:
    """One device: reboot it. Several: off each (stop at a failure), then on each."""
    runs: list[tuple[str, str]] = []
    for level in levels:
        action = "reboot" if len(level) == 1 else "off"
        for name in level:
            runs.append((name, action))
            if name in failing:
                break
        else:
            if len(level) > 1:
                runs += [(name, "on") for name in level]
            return runs, True
    return runs, False


@settings(max_examples=60, deadline=None)
@given(levels=levels_strategy, failing=st.sets(st.sampled_from(POOL)),
       origin=st.sampled_from(("n1", "n2", "n3")))
def test_topology_rules_hold(levels: list[list[str]], failing: set[str], origin: str) -> None:
    topology = "".join(f'<fencing-level id="l{i}" target="n2" index="{i}" '
                       f'devices="{",".join(level)}"/>' for i, level in enumerate(levels, 1))
    resources = "".join(device(d, pcmk_host_list="n2", pcmk_reboot_retries="0",
                               pcmk_off_retries="0") for d in POOL)
    sim = fencing_simulation(("n1", "n2", "n3"), cib(resources, topology),
                              script=script(failing))
    request(sim, origin, FenceRequest("n2", "reboot", 600), client="client:a")
    request(sim, origin, FenceRequest("n2", "reboot", 600), client="client:b")
    sim.run_until_idle()
    runs, ok = expected_runs(levels, failing)
    assert [(d, a) for _, d, a in fence_runs(sim)] == runs
    assert all(node != "n2" for node, _, _ in fence_runs(sim))  # never the target itself
    assert result(sim, "client:a").ok is ok
    assert result(sim, "client:a") == result(sim, "client:b")
    # nothing left pending anywhere
    assert all(not sim.core(n, "stonithd")._ops for n in sim.names)
