"""messaging.logs: the daemons' line renderer writes what structlog's ConsoleRenderer wrote
(the content the log readers parse), drops events below the level before rendering them,
and keeps a logged exception's traceback."""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

from messaging import logs
from messaging.logs import structlog

# the log readers' patterns (bench/cold_timeline.py)
LINE = re.compile(r"^(\S+)\s+\[(\w+)\s*\]\s+(\w+)\s*(.*)$")
PAIR = re.compile(r"(\w+)=('(?:[^']*)'|\((?:[^)]*)\)|\[(?:[^\]]*)\]|\{[^}]*\}|\S+)")

FIELDS: dict[str, Any] = {"client": "cibadmin", "version": (0, 12, 3), "ms": 1.5,
                          "ok": True, "nodes": ["n1", "n2"], "daemon": "cib", "node": "n1"}


def _parsed(line: str) -> tuple[str, str, dict[str, str]]:
    match = LINE.match(line)
    assert match, line
    datetime.fromisoformat(match[1].replace("Z", "+00:00"))  # a valid ISO timestamp
    return match[2], match[3], dict(PAIR.findall(match[4]))


def _console_line() -> str:
    """The same event through the renderer the daemons used before (structlog's own)."""
    chain = [structlog.processors.add_log_level,
             structlog.processors.TimeStamper(fmt="iso", utc=True),
             structlog.dev.ConsoleRenderer(colors=False)]
    event: dict[str, Any] = {"event": "write_applied", **FIELDS}
    for processor in chain:
        event = processor(None, "warning", event)
    return str(event)


def test_a_line_carries_what_the_console_renderer_wrote() -> None:
    stream = io.StringIO()
    logs.configure("info", stream=stream)
    logs.get_logger(daemon="cib", node="n1").warning(
        "write_applied", **{k: v for k, v in FIELDS.items() if k not in ("daemon", "node")})
    ours = _parsed(stream.getvalue().splitlines()[0])
    assert ours == _parsed(_console_line())
    assert ours[2]["version"] == "(0, 12, 3)" and ours[2]["client"] == "cibadmin"


class _Counted:
    renders = 0

    def __repr__(self) -> str:
        _Counted.renders += 1
        return "counted"


def test_events_below_the_level_are_not_rendered() -> None:
    stream = io.StringIO()
    logs.configure("info", stream=stream)
    log = logs.get_logger(daemon="crmd")
    log.debug("quiet", value=_Counted())
    assert _Counted.renders == 0 and stream.getvalue() == ""
    log.info("loud", value=_Counted())
    assert _Counted.renders == 1 and "loud" in stream.getvalue()


def test_an_exception_keeps_its_traceback() -> None:
    stream = io.StringIO()
    logs.configure("info", stream=stream)
    try:
        raise ValueError("bad agent")
    except ValueError:
        logs.get_logger(daemon="stonithd").exception("agent_run_failed", run_id=7)
    first, *rest = stream.getvalue().splitlines()
    assert _parsed(first) == ("error", "agent_run_failed", {"daemon": "stonithd", "run_id": "7"})
    assert rest[0].startswith("Traceback") and rest[-1] == "ValueError: bad agent"


def test_json_lines_keep_level_and_timestamp() -> None:
    stream = io.StringIO()
    logs.configure("info", json=True, stream=stream)
    logs.get_logger(daemon="ccm").info("view", members=2)
    line = stream.getvalue()
    assert '"event": "view"' in line and '"level": "info"' in line and '"timestamp"' in line
