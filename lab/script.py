"""Script-driven simulation scenarios (etcd-raft datadriven style) over `lab.sim.Cluster`.

A script is a sequence of blocks: one command line, a ``----`` line, the expected output,
a blank line. `run_script` executes the commands and returns the same file with the
outputs it produced, plus the list of failed `expect-*` checks. The test runner compares
that text with the file (golden transcript) and fails on any failed expectation, so a
scenario can fail two ways: the transcript changed, or an asserted property broke.

Commands:
  options key=value...      seed, keepalive, deadtime, delay, jitter, duplicate (0..1) and
                            quorum settings (expected_votes, two_node, wait_for_all,
                            last_man_standing, last_man_standing_window, auto_tie_breaker)
  add-nodes N | NAME...     nodes n1..nN (or the names given)
  tick SECONDS              advance time; prints the views installed meanwhile
  stabilize [LIMIT]         run until every partition agrees on a view of itself
  partition A B | C         split the network into groups ("|"-separated), `heal` joins it
  cut A B / uncut A B       one-way loss of everything A sends to B
  loss NODE PERCENT         random loss on everything NODE sends or receives
  kill NODE / start NODE    SIGKILL-like stop / fresh boot
  views                     every node's view and quorum
  expect-view A B | C       each group shares one view with exactly those members
  expect-quorate A... / expect-inquorate A...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from messaging.errors import UsageError

from .sim import Cluster

SEPARATOR = "----"
_INT_OPTIONS = {"seed", "expected_votes"}
_BOOL_OPTIONS = {"two_node", "wait_for_all", "last_man_standing", "auto_tie_breaker"}
_FLOAT_OPTIONS = {"keepalive", "deadtime", "delay", "jitter", "duplicate",
                  "last_man_standing_window"}


@dataclass
class _Run:
    options: dict[str, Any] = field(default_factory=dict)
    cluster: Cluster | None = None
    seen_events: int = 0
    failures: list[str] = field(default_factory=list)

    def need(self) -> Cluster:
        if self.cluster is None:
            raise UsageError("add-nodes must come before this command")
        return self.cluster


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
    run = _Run()
    blocks = []
    for command in parse_blocks(text):
        output = _execute(run, command)
        blocks.append(f"{command}\n{SEPARATOR}\n{output}\n")
    prefix = "\n".join(_leading_comments(text))
    body = "\n".join(blocks)
    return (f"{prefix}\n\n{body}" if prefix else body), run.failures


def _leading_comments(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def _execute(run: _Run, command: str) -> str:
    verb, *args = command.split()
    handler = _COMMANDS.get(verb)
    if handler is None:
        raise UsageError(f"unknown scenario command {verb!r}")
    return handler(run, args)


def _options(run: _Run, args: list[str]) -> str:
    for arg in args:
        key, _, value = arg.partition("=")
        if key in _INT_OPTIONS:
            run.options[key] = int(value)
        elif key in _BOOL_OPTIONS:
            run.options[key] = value in ("1", "on", "yes", "true")
        elif key in _FLOAT_OPTIONS:
            run.options[key] = float(value)
        else:
            raise UsageError(f"unknown scenario option {key!r}")
    return "ok"


def _add_nodes(run: _Run, args: list[str]) -> str:
    names = [f"n{i}" for i in range(1, int(args[0]) + 1)] if args[0].isdigit() else args
    if run.cluster is None:
        opts = dict(run.options)
        network = {k: opts.pop(k) for k in ("delay", "jitter", "duplicate") if k in opts}
        run.cluster = Cluster(
            seed=opts.pop("seed", 1),
            keepalive=opts.pop("keepalive", 0.2),
            deadtime=opts.pop("deadtime", 1.0),
            quorum=opts,
        )
        for key, value in network.items():
            setattr(run.cluster.network, key, value)
    run.cluster.add_nodes(names)
    return "ok"


def _new_events(run: _Run) -> list[str]:
    cluster = run.need()
    lines = []
    for when, node, event in cluster.events[run.seen_events:]:
        quorum = "quorate" if event.quorate else "INQUORATE"
        lines.append(f"{when:7.3f} {node}: view {event.view_id} [{' '.join(event.members)}] "
                     f"{quorum} {event.total_votes}/{event.expected_votes}")
    run.seen_events = len(cluster.events)
    return lines


def _tick(run: _Run, args: list[str]) -> str:
    run.need().run_for(float(args[0]))
    return "\n".join(_new_events(run)) or "no change"


def _stabilize(run: _Run, args: list[str]) -> str:
    cluster = run.need()
    took = cluster.stabilize(limit=float(args[0]) if args else 60.0)
    events = _new_events(run)
    if took is None:
        run.failures.append(f"not stable: {'; '.join(cluster.agreement_problems())}")
        return "\n".join([*events, "NOT STABLE"])
    return "\n".join([*events, f"stable after {took:.2f}s"])


def _groups(args: list[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    current: list[str] = []
    for arg in args:
        if arg == "|":
            groups.append(current)
            current = []
        else:
            current.append(arg)
    return [*groups, current]


def _partition(run: _Run, args: list[str]) -> str:
    run.need().network.groups = [frozenset(g) for g in _groups(args)]
    return "ok"


def _heal(run: _Run, args: list[str]) -> str:
    network = run.need().network
    network.groups, network.loss = [], {}
    network.cut_links.clear()
    return "ok"


def _cut(run: _Run, args: list[str]) -> str:
    run.need().network.cut_links.add((args[0], args[1]))
    return "ok"


def _uncut(run: _Run, args: list[str]) -> str:
    run.need().network.cut_links.discard((args[0], args[1]))
    return "ok"


def _loss(run: _Run, args: list[str]) -> str:
    run.need().network.loss[args[0]] = float(args[1]) / 100
    return "ok"


def _kill(run: _Run, args: list[str]) -> str:
    run.need().kill(args[0])
    return "ok"


def _start(run: _Run, args: list[str]) -> str:
    run.need().start(args[0])
    return "ok"


def _views(run: _Run, args: list[str]) -> str:
    cluster = run.need()
    lines = []
    for name in cluster.names:
        node = cluster.nodes[name]
        if not node.alive:
            lines.append(f"{name}: down")
            continue
        view, state = node.ccm.view, node.ccm.quorum_state
        quorum = "quorate" if state.quorate else "INQUORATE"
        lines.append(f"{name}: view {view.view_id} [{' '.join(view.members)}] by "
                     f"{view.coordinator or '-'} {quorum} {state.total_votes}/"
                     f"{state.expected_votes}")
    return "\n".join(lines)


def _expect_view(run: _Run, args: list[str]) -> str:
    cluster = run.need()
    problems = []
    for group in _groups(args):
        views = {cluster.nodes[n].ccm.view for n in group}
        members = {tuple(v.members) for v in views}
        if len(views) != 1 or members != {tuple(sorted(group))}:
            problems.append(f"{' '.join(group)} report {sorted(members)}")
    run.failures += [f"expect-view {' '.join(args)}: {p}" for p in problems]
    return "\n".join(problems) or "ok"


def _expect_quorum(wanted: bool) -> Callable[[_Run, list[str]], str]:
    def check(run: _Run, args: list[str]) -> str:
        cluster = run.need()
        wrong = [n for n in args if cluster.nodes[n].ccm.quorum_state.quorate != wanted]
        if wrong:
            run.failures.append(f"quorate should be {wanted} on {' '.join(wrong)}")
            return f"wrong on {' '.join(wrong)}"
        return "ok"

    return check


_COMMANDS: dict[str, Callable[[_Run, list[str]], str]] = {
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
