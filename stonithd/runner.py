"""Running fence agents: find the executable, feed stdin, enforce the timeout.

The fencer's way of calling an agent (fence-agents API): no arguments, one `name=value`
line per parameter on stdin. Each agent runs in its own session (process group); when
the timeout passes the whole group is killed with SIGKILL, so a hanging agent and any
children it forked are gone before the result is reported. stdout and stderr are captured
(each capped), decoded leniently, and returned as an `AgentOutput`; what that output means
is decided by `results.interpret`, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from messaging.errors import NotFoundError
from stonithd.results import AgentOutput

MAX_OUTPUT = 1 << 20
OWN_AGENTS = Path(__file__).resolve().parents[1] / "agents" / "fence" / "bin"
_KILL_GRACE = 2.0
_PIPE_GRACE = 0.5
_POLL = 0.05


def default_agent_dirs(extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Where agents are looked for: explicit dirs, $HACLUSTER_FENCE_AGENT_DIRS, our own
    agents' executable wrappers (agents/fence/bin), the interpreter's bin dir (our
    console-script agents), /usr/sbin, /sbin, then $PATH.

    The wrappers come before the console scripts: they start the interpreter without
    `site` (38 ms against 124 ms per run at load 20), and the fencer starts an agent for
    every action, a device's start and first monitor included."""
    env = os.environ.get("HACLUSTER_FENCE_AGENT_DIRS", "")
    path = os.environ.get("PATH", "")
    dirs = [*extra, *env.split(":"), str(OWN_AGENTS), str(Path(sys.executable).parent),
            "/usr/sbin", "/sbin", *path.split(":")]
    seen: dict[str, None] = {}
    for d in dirs:
        if d:
            seen.setdefault(d, None)
    return tuple(seen)


def find_agent(name: str, dirs: Iterable[str]) -> str:
    """The path of fence agent `name` in the first directory that has it executable.

    Raises:
        NotFoundError: no such agent (or the name is not a plain fence_* name).
    """
    if "/" in name or not name.startswith("fence_"):
        raise NotFoundError(f"{name!r} is not a fence agent name (fence_*)")
    for directory in dirs:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise NotFoundError(f"fence agent {name} is not installed")


def format_input(pairs: Iterable[tuple[str, str]]) -> bytes:
    """The stdin text for an agent: `name=value` lines (newlines in values are dropped)."""
    lines = [f"{k}={v.replace(chr(10), ' ')}" for k, v in pairs]
    return ("\n".join(lines) + "\n").encode()


def _decode(data: bytes) -> str:
    text = data[:MAX_OUTPUT].decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > MAX_OUTPUT else "")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _agent_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HACLUSTER_PYTHON", sys.executable)  # our bin/ wrappers use it
    return env


async def _wait_done(proc: asyncio.subprocess.Process, communicate: asyncio.Future[Any],
                     deadline: float) -> bool:
    """Wait until the agent's output is complete; True when the deadline passed first.

    Output normally completes when the agent exits. If the agent exited but something it
    forked still holds the pipes, give that `_PIPE_GRACE` seconds and stop waiting.
    """
    while not communicate.done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        if proc.returncode is not None:
            await asyncio.wait({communicate}, timeout=min(_PIPE_GRACE, remaining))
            return False
        await asyncio.wait({communicate}, timeout=min(_POLL, remaining))
    return False


async def run_agent(path: str, pairs: Iterable[tuple[str, str]], timeout: float,
                    argv: Sequence[str] = ()) -> AgentOutput:
    """Run one agent with `pairs` on stdin; never raises for agent misbehaviour."""
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            path, *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, env=_agent_env())
    except OSError as error:
        return AgentOutput(None, error=f"cannot run {path}: {error.strerror or error}")
    communicate = asyncio.ensure_future(proc.communicate(format_input(pairs)))
    try:
        timed_out = await _wait_done(proc, communicate, started + timeout)
    except asyncio.CancelledError:  # the caller gave up: the agent must not outlive it
        _kill_group(proc.pid)
        communicate.cancel()
        raise
    # The agent is gone (or must go): what is left of its group goes too, so children that
    # inherited the pipes cannot keep us waiting for end-of-file.
    _kill_group(proc.pid)
    try:
        stdout, stderr = await asyncio.wait_for(communicate, _KILL_GRACE)
    except TimeoutError:  # a grandchild that left the group still holds the pipes
        stdout, stderr = b"", b""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), _KILL_GRACE)
    return AgentOutput(None if timed_out else proc.returncode, _decode(stdout),
                       _decode(stderr), timed_out=timed_out,
                       elapsed=time.monotonic() - started)


def run_agent_sync(path: str, pairs: Iterable[tuple[str, str]], timeout: float,
                   argv: Sequence[str] = ()) -> AgentOutput:
    """Blocking variant for tools (metadata, validate) that have no event loop."""
    return asyncio.run(run_agent(path, list(pairs), timeout, argv))
