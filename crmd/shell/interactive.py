"""The interactive crm shell: levels, cd/up, history, help and tab completion (prompt_toolkit).

Each line goes through the same click tree as `crm <level> <command>` (crmd.shell.commands),
prefixed with the current level, so the shell and the one-shot form cannot drift apart.
Completion is derived from that tree (commands, choices) plus the CIB (resource ids, node
names) and the installed agents (class:provider:type). configure edits stay in a working
copy until `commit`; leaving with changes pending asks first, as crmsh does.
"""

from __future__ import annotations

import shlex
import socket
from collections.abc import Callable, Iterable
from typing import Any

import click

from crmd.shell.cli import run_line
from crmd.shell.session import Session
from messaging.errors import HAError

LEVELS = ("configure", "resource", "node", "ra")
SHELL_WORDS = ("cd", "up", "end", "ls", "help", "quit", "exit", "bye")
_RESOURCE_WORDS = {"start", "stop", "restart", "move", "ban", "clear", "cleanup", "locate",
                   "manage", "unmanage", "maintenance", "param", "meta", "delete", "rename",
                   "group", "clone", "ms", "show", "location", "colocation", "order"}
_NODE_WORDS = {"standby", "online", "maintenance", "ready", "attribute", "utilization", "show"}


def level_commands(level: str) -> list[str]:
    """Command names at a level, from the click tree itself."""
    from crmd.shell.commands import crm

    ctx = click.Context(crm)
    if not level:
        return sorted([*crm.list_commands(ctx), *SHELL_WORDS])
    group = crm.get_command(ctx, level)
    assert isinstance(group, click.Group)
    return sorted([*group.list_commands(click.Context(group)), *SHELL_WORDS])


def _cib_names(state: Session) -> tuple[list[str], list[str]]:
    try:
        root = state.live_edit() if not state.dirty else state.configuration_cib()
    except (HAError, OSError):  # completion must never break the prompt
        return [], []
    resources = [e.get("id") or "" for e in root.iterfind("configuration/resources//*")
                 if e.tag in ("primitive", "group", "clone", "master", "bundle")]
    nodes = [n.get("uname") or "" for n in root.iterfind("configuration/nodes/node")]
    return sorted(resources), sorted(nodes)


def agent_names() -> list[str]:
    """Installed agents as class:provider:type (what the lrmd can run)."""
    from lrmd.api import installed_agents

    return installed_agents()


def complete(level: str, text_before: str, state: Session) -> list[str]:
    """Candidates for the word being typed (pure apart from reading the CIB)."""
    words = shlex.split(text_before) if text_before.strip() else []
    if text_before and not text_before[-1].isspace() and words:
        current, done = words[-1], words[:-1]
    else:
        current, done = "", words
    if not done:
        return [c for c in level_commands(level) if c.startswith(current)]
    command = done[0]
    if command == "cd":
        return [c for c in (*LEVELS, "..") if c.startswith(current)]
    resources, nodes = _cib_names(state)
    candidates: Iterable[str] = ()
    if level == "configure" and command == "primitive" and len(done) == 2:
        candidates = agent_names()
    elif level == "configure" and command == "primitive":
        candidates = _primitive_words(done)
    elif level == "resource" and command == "param" and len(done) == 3:
        candidates = _resource_parameters(state, done[1])
    elif level == "node" and command in _NODE_WORDS:
        candidates = nodes
    elif command in _RESOURCE_WORDS:
        candidates = resources if len(done) == 1 else [*nodes, *resources]
    return [c for c in candidates if c.startswith(current)]


_PRIMITIVE_BLOCKS = ("params", "meta", "op", "utilization")
# Resource meta attributes Pacemaker knows (crm_resource --list-options primitive).
_META_NAMES = ("allow-migrate", "failure-timeout", "is-managed", "maintenance",
               "migration-threshold", "multiple-active", "priority", "requires",
               "resource-stickiness", "target-role")
_OP_NAMES = ("monitor", "start", "stop", "promote", "demote", "migrate_to", "migrate_from",
             "notify", "reload")
_OP_ATTRIBUTES = ("interval=", "timeout=", "role=", "on-fail=", "start-delay=",
                  "OCF_CHECK_LEVEL=")


def _primitive_words(done: list[str]) -> list[str]:
    """After `primitive ID AGENT ...`: block keywords, and inside `params` the agent's
    parameter names (from its meta-data) not given yet, as NAME=."""
    from crmd.shell.ra import agent_parameters

    block = next((w for w in reversed(done[3:]) if w in _PRIMITIVE_BLOCKS), None)
    given = {w.partition("=")[0] for w in done[3:] if "=" in w}
    names: list[str] = []
    if block == "params":
        names = [f"{p}=" for p in agent_parameters(done[2]) if p not in given]
    elif block == "meta":
        names = [f"{m}=" for m in _META_NAMES if m not in given]
    elif block == "op":
        names = list(_OP_NAMES) if done[-1] == "op" else list(_OP_ATTRIBUTES)
    return [*names, *_PRIMITIVE_BLOCKS]


def _resource_parameters(state: Session, rsc: str) -> list[str]:
    """`resource param RSC set|delete|show <TAB>`: the parameters of RSC's agent."""
    from crmd.shell.ra import agent_parameters

    try:
        root = state.live_edit() if not state.dirty else state.configuration_cib()
    except (HAError, OSError):
        return []
    for element in root.iterfind("configuration/resources//primitive"):
        if element.get("id") == rsc:
            parts = [element.get("class"), element.get("provider"), element.get("type")]
            return list(agent_parameters(":".join(p for p in parts if p)))
    return []


def prompt_text(level: str) -> str:
    return f"crm(live/{socket.gethostname()}){level}# "


def handle(line: str, level: str, state: Session) -> tuple[str | None, int]:
    """Run one shell line; (new level or None to leave, exit code of the command)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as error:
        click.echo(f"ERROR: {error}", err=True)
        return level, 1
    if not words:
        return level, 0
    head = words[0]
    if head in ("quit", "exit", "bye"):
        return None, 0
    if head in ("up", "end") or (head == "cd" and words[1:] in ([], [".."])):
        return "", 0
    if head == "cd" or (head in LEVELS and len(words) == 1):
        target = words[1] if head == "cd" else head
        if target not in LEVELS:
            click.echo(f"ERROR: {target}: no such level", err=True)
            return level, 1
        return target, 0
    if head == "ls":
        click.echo("  ".join(level_commands(level)))
        return level, 0
    if head == "help":
        return level, run_line([*words[1:], "--help"], state, (level,) if level else ())
    return level, run_line(words, state, (level,) if level and head not in LEVELS else ())


def run_shell() -> int:
    """The read-eval loop on a terminal (prompt_toolkit) or on piped input."""
    state = Session(interactive=True)
    level = ""
    code = 0
    session = _prompt_session(state, lambda: level)
    while True:
        try:
            line = session.prompt(prompt_text(level)) if session else _read_plain(level)
        except (EOFError, KeyboardInterrupt):
            line = "quit"
        if line is None:
            line = "quit"
        new_level, code = handle(line, level, state)
        if new_level is None:
            if state.dirty and _confirm("There are changes pending. Do you want to commit "
                                        "them (y/n)? ", session is not None):
                state.commit()
            state.close()
            return code
        level = new_level


def _read_plain(level: str) -> str | None:
    import sys

    sys.stdout.write(prompt_text(level))
    sys.stdout.flush()
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def _confirm(question: str, terminal: bool) -> bool:
    import sys

    if not terminal and not sys.stdin.isatty():
        return True  # a script piped in means its changes
    answer = input(question)
    return answer.strip().lower().startswith("y")


def _prompt_session(state: Session, level: Callable[[], str]) -> Any:
    import sys

    if not sys.stdin.isatty():
        return None
    from crmd.shell.prompt import make_prompt_session

    return make_prompt_session(state, level)
