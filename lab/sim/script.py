"""Script-driven simulation scenarios (etcd-raft datadriven style) over `lab.sim`.

A script is a sequence of blocks: one command line, a ``----`` line, the expected output,
a blank line. `run_script` executes the commands and returns the same file with the
outputs it produced, plus the list of failed `expect-*` checks. The test runner compares
that text with the file (golden transcript) and fails on any failed expectation, so a
scenario can fail two ways: the transcript changed, or an asserted property broke.

Commands (membership):
  options key=value...      seed, keepalive, deadtime, delay, jitter, duplicate (0..1),
                            daemons=membership|all, quorum settings (expected_votes,
                            two_node, wait_for_all, last_man_standing,
                            last_man_standing_window, auto_tie_breaker)
  add-nodes N | NAME...     nodes n1..nN (or the names given), booted at once
  tick SECONDS              advance time; prints what was published meanwhile
  stabilize [LIMIT]         run until every partition agrees on a view of itself
  partition A B | C         split the network into groups ("|"-separated), `heal` joins it
  cut A B / uncut A B       one-way loss of everything A sends to B
  loss NODE PERCENT         random loss on everything NODE sends or receives
  kill NODE / start NODE    power cut / fresh boot
  views                     every node's view and quorum
  expect-view A B | C       each group shares one view with exactly those members
  expect-quorate A... / expect-inquorate A...
Fencing and resource agents (`daemons=all`): see `lab.sim.script_ops`; whole clusters with
controllers and a CIB: see `lab.sim.script_crm`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ccm.api import MEMBERSHIP_TOPIC, MembershipChanged
from messaging.errors import UsageError

from .checks import agreement_problems, stabilize, view
from .daemons import ALL_DAEMONS, MEMBERSHIP, SimConfig
from .world import Simulation, TraceEntry

SEPARATOR = "----"
_INT_OPTIONS = {"seed", "expected_votes"}
_BOOL_OPTIONS = {"two_node", "wait_for_all", "last_man_standing", "auto_tie_breaker"}
_FLOAT_OPTIONS = {"keepalive", "deadtime", "delay", "jitter", "duplicate",
                  "last_man_standing_window"}
_NETWORK_OPTIONS = {"delay": "latency", "jitter": "jitter", "duplicate": "duplicate"}

Command = Callable[["Run", list[str]], str]
EventFormatter = Callable[["Run", TraceEntry], str | None]


@dataclass
class Run:
    """The state of one script run (shared with `script_ops`)."""

    options: dict[str, Any] = field(default_factory=dict)
    config: SimConfig = field(default_factory=SimConfig)
    sim: Simulation | None = None
    seen: int = 0
    failures: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)  # CIB primitives of fence devices
    constraints: list[str] = field(default_factory=list)  # their location constraints
    clients: int = 0
    crm: Any = None  # a lab.sim.cluster.ControllerCluster (`crm-cluster`)

    def need(self) -> Simulation:
        if self.sim is None:
            raise UsageError("add-nodes must come before this command")
        return self.sim


def parse_blocks(text: str) -> list[str]:
    """The command lines of a script (expected outputs and comments are skipped)."""
    commands, skipping = [], False
    for line in text.splitlines():
        if skipping:
            skipping = line.strip() != ""
            continue
        if line.strip() == SEPARATOR:
            skipping = True
        elif line.strip() and not line.startswith("#"):
            commands.append(line.strip())
    return commands


def run_script(text: str) -> tuple[str, list[str]]:
    """Run every command; return (transcript in file format, failed expectations)."""
    run = Run()
    blocks = []
    for command in parse_blocks(text):
        output = _execute(run, command)
        blocks.append(f"{command}\n{SEPARATOR}\n{output}\n")
    prefix = "\n".join(_leading_comments(text))
    body = "\n".join(blocks)
    return (f"{prefix}\n\n{body}" if prefix else body), run.failures


def trace_of(text: str) -> list[str]:
    """Every publication of a script's run, one line each (for determinism checks)."""
    run = Run()
    for command in parse_blocks(text):
        _execute(run, command)
    return [entry.line() for entry in run.need().trace]


def _leading_comments(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def _execute(run: Run, command: str) -> str:
    from .script_crm import CRM_COMMANDS
    from .script_ops import OPS_COMMANDS

    verb, *args = command.split()
    handler = _COMMANDS.get(verb) or OPS_COMMANDS.get(verb) or CRM_COMMANDS.get(verb)
    if handler is None:
        raise UsageError(f"unknown scenario command {verb!r}")
    return handler(run, args)


def _options(run: Run, args: list[str]) -> str:
    for arg in args:
        key, _, value = arg.partition("=")
        if key in _INT_OPTIONS:
            run.options[key] = int(value)
        elif key in _BOOL_OPTIONS:
            run.options[key] = value in ("1", "on", "yes", "true")
        elif key in _FLOAT_OPTIONS:
            run.options[key] = float(value)
        elif key == "daemons" and value in ("membership", "all"):
            run.options[key] = value
        else:
            raise UsageError(f"unknown scenario option {key!r}")
    return "ok"


def _add_nodes(run: Run, args: list[str]) -> str:
    names = [f"n{i}" for i in range(1, int(args[0]) + 1)] if args[0].isdigit() else args
    if run.sim is None:
        opts = dict(run.options)
        network = {k: opts.pop(k) for k in _NETWORK_OPTIONS if k in opts}
        daemons = ALL_DAEMONS if opts.pop("daemons", "membership") == "all" else MEMBERSHIP
        config = run.config
        config.keepalive = opts.pop("keepalive", 0.2)
        config.deadtime = opts.pop("deadtime", 1.0)
        seed = opts.pop("seed", 1)
        config.quorum = opts
        if run.devices:
            config.fencing_cib = (
                "<cib><configuration><resources>" + "".join(run.devices) + "</resources>"
                "<constraints>" + "".join(run.constraints) + "</constraints>"
                "</configuration></cib>")
        run.sim = Simulation(daemons, seed=seed, config=config)
        for key, value in network.items():
            setattr(run.sim.network.links["eth0"], _NETWORK_OPTIONS[key], value)
    run.sim.add_nodes(names)
    return "ok"


def _membership_line(run: Run, entry: TraceEntry) -> str | None:
    event = entry.event
    if entry.topic != MEMBERSHIP_TOPIC or not isinstance(event, MembershipChanged):
        return None
    quorum = "quorate" if event.quorate else "INQUORATE"
    return (f"{entry.when:7.3f} {entry.node}: view {event.view_id} [{' '.join(event.members)}] "
            f"{quorum} {event.total_votes}/{event.expected_votes}")


FORMATTERS: list[EventFormatter] = [_membership_line]  # script_ops adds its own


def new_events(run: Run) -> list[str]:
    sim = run.need()
    lines = []
    for entry in sim.trace[run.seen:]:
        for formatter in FORMATTERS:
            line = formatter(run, entry)
            if line is not None:
                lines.append(line)
    run.seen = len(sim.trace)
    return lines


def _tick(run: Run, args: list[str]) -> str:
    run.need().run_for(float(args[0]))
    return "\n".join(new_events(run)) or "no change"


def _stabilize(run: Run, args: list[str]) -> str:
    sim = run.need()
    took = stabilize(sim, limit=float(args[0]) if args else 60.0)
    events = new_events(run)
    if took is None:
        run.failures.append(f"not stable: {'; '.join(agreement_problems(sim))}")
        return "\n".join([*events, "NOT STABLE"])
    return "\n".join([*events, f"stable after {took:.2f}s"])


def groups_of(args: list[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    current: list[str] = []
    for arg in args:
        if arg == "|":
            groups.append(current)
            current = []
        else:
            current.append(arg)
    return [*groups, current]


def _partition(run: Run, args: list[str]) -> str:
    run.need().network.groups = [frozenset(g) for g in groups_of(args)]
    return "ok"


def _heal(run: Run, args: list[str]) -> str:
    run.need().network.heal()
    return "ok"


def _cut(run: Run, args: list[str]) -> str:
    run.need().network.cut(args[0], args[1])
    return "ok"


def _uncut(run: Run, args: list[str]) -> str:
    run.need().network.uncut(args[0], args[1])
    return "ok"


def _loss(run: Run, args: list[str]) -> str:
    run.need().network.loss[args[0]] = float(args[1]) / 100
    return "ok"


def _kill(run: Run, args: list[str]) -> str:
    run.need().kill(args[0])
    return "ok"


def _start(run: Run, args: list[str]) -> str:
    run.need().start(args[0])
    return "ok"


def _views(run: Run, args: list[str]) -> str:
    sim = run.need()
    lines = []
    for name in sim.names:
        if not sim.alive(name):
            lines.append(f"{name}: down")
            continue
        core = sim.core(name, "ccm")
        installed, state = core.view, core.quorum_state
        quorum = "quorate" if state.quorate else "INQUORATE"
        lines.append(f"{name}: view {installed.view_id} [{' '.join(installed.members)}] by "
                     f"{installed.coordinator or '-'} {quorum} {state.total_votes}/"
                     f"{state.expected_votes}")
    return "\n".join(lines)


def _expect_view(run: Run, args: list[str]) -> str:
    sim = run.need()
    problems = []
    for group in groups_of(args):
        views = {view(sim, n) for n in group}
        members = {tuple(v.members) for v in views}
        if len(views) != 1 or members != {tuple(sorted(group))}:
            problems.append(f"{' '.join(group)} report {sorted(members)}")
    run.failures += [f"expect-view {' '.join(args)}: {p}" for p in problems]
    return "\n".join(problems) or "ok"


def _expect_quorum(wanted: bool) -> Command:
    def check(run: Run, args: list[str]) -> str:
        sim = run.need()
        wrong = [n for n in args if sim.core(n, "ccm").quorum_state.quorate != wanted]
        if wrong:
            run.failures.append(f"quorate should be {wanted} on {' '.join(wrong)}")
            return f"wrong on {' '.join(wrong)}"
        return "ok"

    return check


_COMMANDS: dict[str, Command] = {
    "options": _options,
    "add-nodes": _add_nodes,
    "tick": _tick,
    "stabilize": _stabilize,
    "partition": _partition,
    "heal": _heal,
    "cut": _cut,
    "uncut": _uncut,
    "loss": _loss,
    "kill": _kill,
    "start": _start,
    "views": _views,
    "expect-view": _expect_view,
    "expect-quorate": _expect_quorum(True),
    "expect-inquorate": _expect_quorum(False),
}
