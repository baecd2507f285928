#!/usr/bin/env python3
"""What the DC's cores cost for a big cluster: 16 nodes, N primitives (default 2000).

Two rounds, in this process, on the pure cores only (no daemons, no IPC, no CIB daemon):
  cold    schedule() of the generated CIB (every resource stopped: probes, starts,
          monitors), `graph_of`, then the transition engine with every action
          answered at once and every result recorded by that node's `Recorder`;
  joins   (before the loss, not part of the reaction) every node's ``<lrm>`` rebuilt
          from its recorder, as its join confirmation sends it, the status section
          holding them, and the DC's parsed copy of that CIB (`crmd.cib_copy`, kept
          current from the cib's patches once read);
  loss    the DC's reaction to one node's loss: its copy with the loss's node_state
          write on top (`FollowedCopy.with_writes`, what `CibLink.read_ahead` gives the
          scheduler), then schedule() + graph_of + the engine again.
Reported: seconds per step (process CPU time), the graph sizes and the reaction's total
(the loss rows: issue 10's "reacts to a node loss with a complete transition").

    python bench/crmd_transition.py --primitives 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.pengine_scale import generate_cib  # noqa: E402
from crmd import graph as reading  # noqa: E402
from crmd.api import (  # noqa: E402
    ActionResult,
    ExecuteClusterAction,
    ExecuteResourceAction,
    ModifyCib,
    Recorder,
    TransitionEngine,
    TransitionFinished,
    graph_of,
)
from crmd.cib_copy import FollowedCopy  # noqa: E402
from crmd.cib_events import write_of  # noqa: E402
from crmd.join import node_state_xml  # noqa: E402
from lrmd.api import AgentSpec, OpCompleted, op_digest  # noqa: E402
from pengine.api import schedule  # noqa: E402

WALL = 1_700_000_000.0


def _timed(label: str, rows: list[tuple[str, float]], work):  # type: ignore[no-untyped-def]
    start = time.process_time()
    value = work()
    rows.append((label, time.process_time() - start))
    return value


def execute(graph, recorders: dict[str, Recorder]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Run the graph, answering every action with success and recording resource results."""
    engine = TransitionEngine("1")
    pending = list(engine.start(graph, 0.0, WALL))
    outcome, calls = "", 0
    while pending:
        effect = pending.pop()
        if isinstance(effect, TransitionFinished):
            outcome = effect.outcome
        if not isinstance(effect, (ExecuteResourceAction, ExecuteClusterAction)):
            continue
        action = effect.action
        agent, target_rc = reading.agent(action), reading.target_rc(action)
        if isinstance(effect, ExecuteResourceAction) and agent:
            calls += 1
            params, interval = reading.params(action), reading.interval_ms(action)
            recorders[effect.node].record(OpCompleted(
                call_id=calls, resource=reading.resource_id(action) or "",
                agent=AgentSpec.parse(agent), action=action.operation, interval_ms=interval,
                rc=7 if target_rc == 7 else 0, status=0,
                last_run=WALL, last_rc_change=WALL, exec_time_ms=1, params=params,
                op_digest=op_digest(params, interval, reading.timeout_ms(action))),
                effect.transition_key)
        pending += engine.handle(ActionResult(effect.transition_key, effect.node,
                                              target_rc, 0, 1.0))
    return len(graph.synapses), outcome


def rebuild_status(cib_text: str, recorders: dict[str, Recorder]) -> str:
    """The CIB once every node's join confirmation wrote its ``<lrm>``."""
    root = etree.fromstring(cib_text.encode())
    for state in root.iterfind("status/node_state"):
        state.append(etree.fromstring(recorders[state.get("uname", "")].lrm_xml()))
    return etree.tostring(root, encoding="unicode")


def loss_written(copy: FollowedCopy, node_id: str, name: str) -> etree._Element:
    """The DC's copy with the loss's node_state write on top (`CibLink.read_ahead`)."""
    assert copy.tree is not None
    update = node_state_xml(node_id, name, "post_cache_update", in_ccm=False,
                            crmd_online=False, expected="member")
    return copy.with_writes(copy.tree, [write_of(ModifyCib("status", update))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--primitives", type=int, default=2000)
    parser.add_argument("--nodes", type=int, default=16)
    args = parser.parse_args()
    text = generate_cib(args.primitives, args.nodes)
    names = [f"node{n:02d}" for n in range(1, args.nodes + 1)]
    recorders = {name: Recorder(name, str(i)) for i, name in enumerate(names, 1)}
    rows: list[tuple[str, float]] = []
    cold = _timed("cold: schedule()", rows, lambda: schedule(text))
    graph = _timed("cold: graph_of", rows, lambda: graph_of(cold, 1))
    size, outcome = _timed("cold: engine + recorder", rows, lambda: execute(graph, recorders))
    print(f"cold graph: {size} actions, {outcome}")
    joined = _timed("joins: status rebuilt from the recorders", rows,
                    lambda: rebuild_status(text, recorders))
    copy = FollowedCopy()
    _timed("joins: the DC's copy parsed (once)", rows, lambda: copy.adopt(joined))
    tree = _timed("loss: DC's copy + the loss written", rows,
                  lambda: loss_written(copy, "1", names[0]))
    loss = _timed("loss: schedule()", rows, lambda: schedule(tree))
    graph = _timed("loss: graph_of", rows, lambda: graph_of(loss, 2))
    size, outcome = _timed("loss: engine + recorder", rows, lambda: execute(graph, recorders))
    print(f"loss graph: {size} actions, {outcome}")
    print("| step | CPU s |\n|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} |")
    reaction = sum(seconds for label, seconds in rows if label.startswith("loss:"))
    print(f"| loss: the DC's whole reaction | {reaction:.2f} |")


if __name__ == "__main__":
    main()
