"""Scenario commands for whole clusters with controllers (crmd) and a CIB.

  crm-cluster CIB [stonith] [seed=N]   every node of CIB's `nodes` section runs heartbeat,
        [boot=NODE,...]                ccm, lrmd, stonithd, the CIB holder and crmd
                                       (CIB relative to the repository); `stonith` enables
                                       fencing with one fence_lab device; `boot=` powers
                                       on only the nodes named (the others stay off)
  crm-run SECONDS                      advance time auditing after every event; prints
                                       views, fencing, power changes and agent starts/stops
  crm-status                           the DC, every controller's state, what runs where
  crm-stop-controller NODE             only NODE's crmd dies and stays down (its node stays
                                       in the view); crm-start-controller NODE starts it
  crm-mark                             remember the agent runs so far (for expect-*-since)
  expect-dc NODE                       one DC in NODE's partition, NODE, idle, believed by all
  expect-running RSC NODE              RSC's agent runs on NODE, and nowhere else
  expect-stopped RSC                   RSC's agent runs nowhere
  expect-not-restarted RSC...          no start of these since `crm-mark`
  expect-no-double-runs                no unique resource was ever active on two nodes
                                       (sampled from every node's lrmd agents at every step,
                                       and by the lab's auditor from every lrmd's history)
  expect-cib-matches-lrmds [NODE]      NODE's CIB copy (default: the DC's) places every
                                       resource where the lrmd histories say it runs
  expect-stopped-on NODE               NODE's agents run nothing (or NODE is down)
  expect-fail-count RSC NODE N         RSC's fail counts on NODE in the DC's status sum to N
  expect-settled                       an idle DC whose policy engine plans nothing more on
                                       its CIB copy, which the lrmd histories match

`kill`, `start`, `partition`, `heal`, `expect-fenced` and the other commands of
`lab.sim.script` and `lab.sim.script_ops` work on the same simulation.
"""

from __future__ import annotations

from pathlib import Path

from lab.audit import placement, placement_differences
from messaging.errors import UsageError

from .cluster import ControllerCluster
from .script import FORMATTERS, Command, Run
from .script_ops import op_line

ROOT = Path(__file__).resolve().parents[2]


def _cluster(run: Run) -> ControllerCluster:
    if not isinstance(run.crm, ControllerCluster):
        raise UsageError("crm-cluster must come before this command")
    return run.crm


def _crm_cluster(run: Run, args: list[str]) -> str:
    if run.sim is not None:
        raise UsageError("crm-cluster builds the simulation: it must come first")
    seed = next((int(a.partition("=")[2]) for a in args if a.startswith("seed=")), 1)
    cluster = ControllerCluster(ROOT / args[0], stonith="stonith" in args, seed=seed)
    run.crm, run.sim, run.config = cluster, cluster.sim, cluster.sim.config
    run.options["daemons"] = "all"  # power changes are part of the transcript
    boot = next((a.partition("=")[2].split(",") for a in args if a.startswith("boot=")), [])
    if boot:
        cluster.start_only(*boot)
    else:
        cluster.start_all()
    return f"nodes {' '.join(cluster.names)}"


def _agent_lines(cluster: ControllerCluster, since: int) -> list[tuple[float, str]]:
    return [(when, f"{when:7.3f} {node}: agent {rsc} {action}")
            for when, node, rsc, action, _ in cluster.agents.runs[since:]
            if action in ("start", "stop")]


def _crm_run(run: Run, args: list[str]) -> str:
    cluster = _cluster(run)
    since = len(cluster.agents.runs)
    cluster.run_for(float(args[0]))
    events = []
    for entry in run.need().trace[run.seen:]:
        events += [(entry.when, line) for formatter in FORMATTERS
                   if formatter is not op_line and (line := formatter(run, entry))]
    run.seen = len(run.need().trace)
    lines = sorted(events + _agent_lines(cluster, since), key=lambda pair: pair[0])
    return "\n".join(line for _, line in lines) or "no change"


def _crm_status(run: Run, args: list[str]) -> str:
    cluster = _cluster(run)
    lines = [f"dc: {cluster.dc() or '-'}"]
    for name in cluster.names:
        if name not in cluster.alive:
            lines.append(f"{name}: down")
            continue
        if name not in cluster.with_controller:
            lines.append(f"{name}: no controller")
            continue
        running = " ".join(sorted(cluster.running()[name])) or "-"
        lines.append(f"{name}: {cluster.controller(name).state.name} running {running}")
    return "\n".join(lines)


def _crm_stop_controller(run: Run, args: list[str]) -> str:
    _cluster(run).stop_controller(args[0])
    return "ok"


def _crm_start_controller(run: Run, args: list[str]) -> str:
    _cluster(run).restart_controller(args[0])
    return "ok"


def _crm_mark(run: Run, args: list[str]) -> str:
    run.options["mark"] = len(_cluster(run).agents.runs)
    return "ok"


def _fail(run: Run, command: str, problem: str) -> str:
    run.failures.append(f"{command}: {problem}")
    return problem


def _expect_dc(run: Run, args: list[str]) -> str:
    cluster = _cluster(run)
    group = next((g for g in cluster.dc_views() if args[0] in g), frozenset())
    dcs = cluster.dc_views().get(group, set())
    if dcs != {args[0]} or not cluster.controller(args[0]).is_dc:
        return _fail(run, f"expect-dc {args[0]}", f"DCs believed: {sorted(map(str, dcs))}")
    state = cluster.controller(args[0]).state.name
    return "ok" if state == "IDLE" else _fail(run, f"expect-dc {args[0]}", f"DC is {state}")


def _expect_running(run: Run, args: list[str]) -> str:
    where = sorted(n for n, rscs in _cluster(run).running().items() if args[0] in rscs)
    if where != [args[1]]:
        return _fail(run, f"expect-running {' '.join(args)}", f"runs on {where or 'none'}")
    return "ok"


def _expect_stopped(run: Run, args: list[str]) -> str:
    where = sorted(n for n, rscs in _cluster(run).running().items() if args[0] in rscs)
    return _fail(run, f"expect-stopped {args[0]}", f"runs on {where}") if where else "ok"


def _expect_not_restarted(run: Run, args: list[str]) -> str:
    cluster = _cluster(run)
    starts = [f"{rsc} on {node}" for _, node, rsc, action, _ in
              cluster.agents.runs[run.options.get("mark", 0):]
              if action == "start" and rsc in args]
    if starts:
        return _fail(run, f"expect-not-restarted {' '.join(args)}", f"started {starts}")
    return "ok"


def _expect_no_double_runs(run: Run, args: list[str]) -> str:
    cluster = _cluster(run)
    violations = cluster.violations
    if violations:
        when, rsc, first, second = violations[0]
        return _fail(run, "expect-no-double-runs",
                     f"{len(violations)} steps; first {rsc} on {first} and {second} at "
                     f"{when:.3f}")
    runs = cluster.lrmd_audit.double_runs()
    if runs:
        return _fail(run, "expect-no-double-runs", f"lrmd histories: {runs[0]}")
    return "ok"


def _lrmd_placement(cluster: ControllerCluster) -> dict[str, set[str]]:
    return placement(cluster.lrmd_running())


def _expect_cib_matches_lrmds(run: Run, args: list[str]) -> str:
    cluster = _cluster(run)
    node = args[0] if args else None
    problems = placement_differences(cluster.cib_placement(node), _lrmd_placement(cluster))
    if problems:
        return _fail(run, "expect-cib-matches-lrmds", "; ".join(problems))
    return "ok"


def _expect_stopped_on(run: Run, args: list[str]) -> str:
    running = _cluster(run).running().get(args[0], set())
    if running:
        return _fail(run, f"expect-stopped-on {args[0]}", f"runs {sorted(running)}")
    return "ok"


def _expect_fail_count(run: Run, args: list[str]) -> str:
    """The fail counts of RSC on NODE (every operation's) in the DC's status section."""
    from lxml import etree

    resource, node, want = args
    root = etree.fromstring(_cluster(run).cib_text())
    values = root.xpath(f"status/node_state[@uname='{node}']//nvpair"
                        f"[starts-with(@name, 'fail-count-{resource}#')]/@value")
    total = sum(int(str(v)) for v in values) if isinstance(values, list) else 0
    if str(total) != want:
        return _fail(run, f"expect-fail-count {' '.join(args)}", f"fail count {total}")
    return "ok"


def _expect_settled(run: Run, args: list[str]) -> str:
    """The DC's policy engine, run on the DC's CIB copy, plans nothing, and the lrmds run
    exactly what that CIB says."""
    from pengine.api import schedule

    cluster = _cluster(run)
    dc = cluster.dc()
    if dc is None or cluster.controller(dc).state.name != "IDLE":
        return _fail(run, "expect-settled", f"no idle DC ({dc})")
    transition = schedule(cluster.cib_text(dc))
    if transition.summary or any(a.in_graph for a in transition.actions):
        planned = [line.strip() for line in transition.summary] or [
            str(a) for a in transition.actions if a.in_graph]
        return _fail(run, "expect-settled", f"the DC would still do {planned[:4]}")
    problems = placement_differences(cluster.cib_placement(dc), _lrmd_placement(cluster))
    return _fail(run, "expect-settled", "; ".join(problems)) if problems else "ok"


CRM_COMMANDS: dict[str, Command] = {
    "crm-cluster": _crm_cluster,
    "crm-run": _crm_run,
    "crm-status": _crm_status,
    "crm-stop-controller": _crm_stop_controller,
    "crm-start-controller": _crm_start_controller,
    "crm-mark": _crm_mark,
    "expect-dc": _expect_dc,
    "expect-running": _expect_running,
    "expect-stopped": _expect_stopped,
    "expect-not-restarted": _expect_not_restarted,
    "expect-no-double-runs": _expect_no_double_runs,
    "expect-cib-matches-lrmds": _expect_cib_matches_lrmds,
    "expect-settled": _expect_settled,
    "expect-stopped-on": _expect_stopped_on,
    "expect-fail-count": _expect_fail_count,
}
