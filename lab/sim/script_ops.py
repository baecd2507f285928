"""Scenario commands for fencing and resource agents (`options daemons=all`).

  fence-device ID NODE... [fails] [duration=S] [on=NODE]
                                                 a fence device for NODEs (before
                                                 add-nodes); `on`: only NODE may run it
  fence ORIGIN TARGET [ACTION] [timeout=S]       a client on ORIGIN asks to fence TARGET
  fence-resource NODE ID start|stop              what NODE's lrmd asks its fencer when the
                                                 device's stonith resource starts there
                                                 (a monitor: verified) or stops (unverified)
  exec NODE RSC ACTION [interval=MS] [timeout=MS] lrmd on NODE runs RSC's ACTION
  agent-fail NODE RSC                            RSC dies on NODE behind lrmd's back
  agent-hang NODE RSC ACTION                     later runs of ACTION never finish
  agent-duration ACTION SECONDS                  how long ACTION takes on every node
  expect-fenced TARGET / expect-fence-failed TARGET
                                                 every live fencer recorded that result
  expect-op NODE RSC ACTION INTERVAL rc=N | status=NAME
                                                 lrmd's last result for that operation
  expect-down NODE / expect-up NODE
  fence-runs                                     every fence agent run so far

`tick` and `stabilize` print fence results, operation results and power changes as they
happen, besides views.
"""

from __future__ import annotations

from typing import Any

from lrmd.api import AgentSpec, ExecRequest, OpCompleted, Submit
from messaging.types import OpStatus
from stonithd import api as fencing

from .script import FORMATTERS, Command, Run
from .world import TraceEntry


def _fence_device(run: Run, args: list[str]) -> str:
    if run.sim is not None:
        run.failures.append("fence-device must come before add-nodes")
        return "too late"
    device, hosts = args[0], [a for a in args[1:] if "=" not in a and a != "fails"]
    pairs = (f'<nvpair id="{device}-hosts" name="pcmk_host_list" value="{" ".join(hosts)}"/>')
    run.devices.append(f'<primitive id="{device}" class="stonith" type="fence_sim">'
                       f'<instance_attributes id="{device}-ia">{pairs}'
                       "</instance_attributes></primitive>")
    devices = run.config.fence_devices
    runner = next((a.partition("=")[2] for a in args if a.startswith("on=")), "")
    if runner:
        run.constraints += [f'<rsc_location id="{device}-not-{n}" rsc="{device}" node="{n}" '
                            'score="-INFINITY"/>' for n in hosts if n != runner]
    if "fails" in args:
        devices.failing.add(device)
    for arg in args[1:]:
        if arg.startswith("duration="):
            devices.duration[device] = float(arg.partition("=")[2])
    return "ok"


def _keywords(args: list[str]) -> tuple[list[str], dict[str, str]]:
    plain = [a for a in args if "=" not in a]
    return plain, dict(a.split("=", 1) for a in args if "=" in a)


def _fence(run: Run, args: list[str]) -> str:
    sim = run.need()
    (origin, target, *rest), keywords = _keywords(args)
    request = fencing.FenceRequest(target, rest[0] if rest else "reboot",
                                   float(keywords.get("timeout", 120)))
    run.clients += 1
    client = f"client:{run.clients}"
    sim.feed(origin, "stonithd",
             lambda now: fencing.ClientRequest(client, request, now, sim.scheduler.wall()))
    return f"ok ({client})"


def _fence_resource(run: Run, args: list[str]) -> str:
    """As lrmd hands a stonith resource's start (a monitor) or stop (an unregister) over."""
    sim = run.need()
    node, device, action = args
    request = fencing.DeviceActionRequest(
        device, "monitor" if action == "start" else fencing.UNREGISTER)
    run.clients += 1
    client = f"client:{run.clients}"
    sim.feed(node, "stonithd",
             lambda now: fencing.ClientRequest(client, request, now, sim.scheduler.wall()))
    return f"ok ({client})"


def _exec(run: Run, args: list[str]) -> str:
    sim = run.need()
    (node, resource, action), keywords = _keywords(args)
    request = ExecRequest(resource, AgentSpec("ocf", "Dummy", "heartbeat"), action,
                          interval_ms=int(keywords.get("interval", 0)),
                          timeout_ms=int(keywords.get("timeout", 20000)))
    run.clients += 1
    client = f"client:{run.clients}"
    sim.feed(node, "lrmd", lambda now: Submit(request, now, client, sim.scheduler.wall()))
    return f"ok ({client})"


def _agent_fail(run: Run, args: list[str]) -> str:
    sim = run.need()
    run.config.resource_agents.fail(sim.daemon(args[0], "lrmd"), args[1])
    return "ok"


def _agent_hang(run: Run, args: list[str]) -> str:
    run.config.resource_agents.hang.add((args[0], args[1], args[2]))
    return "ok"


def _agent_duration(run: Run, args: list[str]) -> str:
    run.config.resource_agents.duration[args[0]] = float(args[1])
    return "ok"


def _fence_results(run: Run, node: str, target: str) -> list[Any]:
    return [e.event for e in run.need().trace
            if e.node == node and isinstance(e.event, fencing.FenceResult)
            and e.event.target == target]


def _expect_fence(wanted: bool) -> Command:
    def check(run: Run, args: list[str]) -> str:
        sim = run.need()
        wrong = []
        for node in (n for n in sim.names if sim.alive(n) and n != args[0]):
            results = _fence_results(run, node, args[0])
            if not results or results[-1].ok != wanted:
                wrong.append(node)
        if wrong:
            run.failures.append(f"fencing of {args[0]} should be {wanted} on {' '.join(wrong)}")
            return f"wrong on {' '.join(wrong)}"
        return "ok"
    return check


def _expect_op(run: Run, args: list[str]) -> str:
    sim = run.need()
    (node, resource, action, interval), keywords = _keywords(args)
    results = [e.event for e in sim.trace if e.node == node and isinstance(e.event, OpCompleted)
               and (e.event.resource, e.event.action, e.event.interval_ms)
               == (resource, action, int(interval))]
    last = results[-1] if results else None
    problem = ""
    if last is None:
        problem = "no result"
    elif "rc" in keywords and last.rc != int(keywords["rc"]):
        problem = f"rc {last.rc}"
    elif "status" in keywords and OpStatus(last.status).name != keywords["status"].upper():
        problem = f"status {OpStatus(last.status).name}"
    if problem:
        run.failures.append(f"expect-op {' '.join(args)}: {problem}")
    return problem or "ok"


def _expect_power(wanted: bool) -> Command:
    def check(run: Run, args: list[str]) -> str:
        sim = run.need()
        if sim.alive(args[0]) != wanted:
            run.failures.append(f"{args[0]} should be {'up' if wanted else 'down'}")
            return "wrong"
        return "ok"
    return check


def _fence_runs(run: Run, args: list[str]) -> str:
    lines = [f"{node}: {effect.device} {effect.action} "
             f"{dict(effect.pairs).get('nodename', '-')}"
             for node, effect in run.config.fence_devices.runs]
    return "\n".join(lines) or "none"


def _fence_line(run: Run, entry: TraceEntry) -> str | None:
    event = entry.event
    if not isinstance(event, fencing.FenceResult):
        return None
    outcome = "ok" if event.ok else f"FAILED ({event.reason})"
    return (f"{entry.when:7.3f} {entry.node}: fence {event.target} {event.action} {outcome}"
            f" by {event.executioner or '-'} via {event.device or '-'}")


def op_line(run: Run, entry: TraceEntry) -> str | None:
    event = entry.event
    if not isinstance(event, OpCompleted):
        return None
    return (f"{entry.when:7.3f} {entry.node}: op {event.resource}_{event.action}_"
            f"{event.interval_ms} rc={event.rc} {OpStatus(event.status).name}")


def _power_line(run: Run, entry: TraceEntry) -> str | None:
    if entry.topic != "node" or run.options.get("daemons") != "all":
        return None
    return f"{entry.when:7.3f} {entry.node}: {entry.event}"


FORMATTERS.extend([_fence_line, op_line, _power_line])

OPS_COMMANDS: dict[str, Command] = {
    "fence-device": _fence_device,
    "fence": _fence,
    "fence-resource": _fence_resource,
    "exec": _exec,
    "agent-fail": _agent_fail,
    "agent-hang": _agent_hang,
    "agent-duration": _agent_duration,
    "expect-fenced": _expect_fence(True),
    "expect-fence-failed": _expect_fence(False),
    "expect-op": _expect_op,
    "expect-down": _expect_power(False),
    "expect-up": _expect_power(True),
    "fence-runs": _fence_runs,
}
