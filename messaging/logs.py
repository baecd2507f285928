"""Structured logging setup (structlog): event names in snake_case with bound context.

Daemons call `configure()` once in `__main__`, then `get_logger(daemon=..., node=...)`.
Cores do not log themselves; they return `Log` effects or take a bound logger.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from typing import Any


def _import_structlog() -> Any:
    """structlog without rich: structlog.dev imports rich (and through it pygments) when it
    is installed, only to pretty-print tracebacks; that is about 2.5 MB in every daemon,
    which logs plain text. A None entry in sys.modules makes that import fail softly (the
    plain traceback formatter is used); it is removed again so a tool may import rich."""
    blocked = "rich" not in sys.modules
    if blocked:
        sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog as module
    finally:
        if blocked and sys.modules.get("rich", 0) is None:
            del sys.modules["rich"]
    return module


structlog = _import_structlog()


class _Stamp:
    """ISO-8601 UTC timestamps with microseconds ("2026-01-02T03:04:05.123456Z", what
    structlog's TimeStamper(fmt="iso", utc=True) wrote), the seconds part formatted once
    per second rather than through datetime on every line."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1e6):06d}Z"


def _value(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def line_renderer() -> Any:
    """The daemons' renderer: `<timestamp> [<level>] <event> key=value ...` with keys
    sorted, strings bare and other values repr'd (the content structlog's ConsoleRenderer
    wrote without colours, so readers of the logs match the same lines), built once and
    doing no column or style work: the daemons log to files and journals, and the console
    renderer cost about 10 % of a CIB write's CPU."""
    stamp = _Stamp()

    def render(_logger: Any, method: str, event_dict: dict[str, Any]) -> str:
        event = event_dict.pop("event", "")
        level = event_dict.pop("level", method)
        trace = _trace(event_dict)
        pairs = " ".join(f"{key}={_value(event_dict[key])}" for key in sorted(event_dict))
        return f"{stamp()} [{level:<9}] {event} {pairs}{trace}"
    return render


def _trace(event_dict: dict[str, Any]) -> str:
    """The traceback of `log.exception(...)` (exc_info), on the lines after the event."""
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return ""
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if exc_info[0] is None:
        return ""
    return "\n" + "".join(traceback.format_exception(*exc_info)).rstrip("\n")


def _json_renderer() -> Any:
    timestamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    render = structlog.processors.JSONRenderer()

    def json_render(logger: Any, method: str, event_dict: dict[str, Any]) -> str:
        event_dict = structlog.processors.add_log_level(logger, method, event_dict)
        return str(render(logger, method, timestamp(logger, method, event_dict)))
    return json_render


def configure(level: str = "info", *, json: bool = False, stream: Any = None) -> None:
    """Route structlog events to `stream` (stderr by default) as key=value or JSON lines.
    Events below `level` are dropped by the bound logger's method before any processor
    runs (structlog's filtering bound logger)."""
    structlog.configure(
        processors=[_json_renderer() if json else line_renderer()],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    """A logger with `context` (daemon, node, ...) bound to every event."""
    return structlog.get_logger().bind(**context)
