"""What a fence agent run produced, and what that means (pure).

`AgentOutput` is the raw outcome of one agent process (exit code, captured text, whether
it had to be killed). `interpret(action, output)` turns it into an `Outcome` following the
fence-agents API: on/off/reboot succeed only with exit 0; status is 0 on, 2 off, anything
else failure; list must exit 0 and print one `port[,alias...]` line per port. Output that
breaks those rules is a failure whose reason says what was wrong, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")
_REASON_CHARS = 200


@dataclass(frozen=True, slots=True)
class AgentOutput:
    """Raw result of running an agent once."""

    rc: int | None  # None: the process did not exit by itself (killed or never started)
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str = ""  # the agent could not be started at all
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the agent run means for the fencer."""

    ok: bool
    reason: str = ""
    powered_on: bool | None = None  # status action only
    ports: tuple[str, ...] = ()  # list action only


def _last_line(text: str) -> str:
    """The last non-empty line, control characters shown as '?', cut to a sane length."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _CONTROL.sub("?", lines[-1][:_REASON_CHARS]) if lines else ""


def _failure(action: str, output: AgentOutput) -> str | None:
    """The reason a run failed before its exit code is even looked at, if any."""
    if output.error:
        return output.error
    if output.timed_out:
        return f"{action} timed out after {output.elapsed:.1f}s; agent killed"
    if output.rc is None or output.rc < 0:
        return f"{action} agent was killed by a signal"
    return None


def parse_list(stdout: str) -> tuple[str, ...] | str:
    """Ports from `list` output, or a reason string naming the first bad line."""
    ports: list[str] = []
    for number, raw in enumerate(stdout.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        port = line.split(",", 1)[0].strip()
        if _CONTROL.search(line) or not port:
            return f"list output line {number} is not 'port,alias': {line[:60]!r}"
        if port != "N/A":
            ports.append(port)
    return tuple(ports)


def interpret(action: str, output: AgentOutput) -> Outcome:
    """Map an agent's raw output to success/failure for `action` (fence-agents rules)."""
    reason = _failure(action, output)
    if reason is not None:
        return Outcome(False, reason)
    rc = output.rc
    detail = _last_line(output.stderr) or _last_line(output.stdout)
    if action == "status":
        if rc in (0, 2):
            return Outcome(True, powered_on=rc == 0)
        if rc == 1:
            return Outcome(False, f"status failed: {detail or 'device unreachable'}")
        return Outcome(False, f"status exited with unexpected code {rc}: {detail}")
    if rc != 0:
        return Outcome(False, f"{action} failed (rc={rc}): {detail or 'no output'}")
    if action == "list":
        ports = parse_list(output.stdout)
        if isinstance(ports, str):
            return Outcome(False, ports)
        return Outcome(True, ports=ports)
    return Outcome(True)
