"""Structured logging setup (structlog): event names in snake_case with bound context.

Daemons call `configure()` once in `__main__`, then `get_logger(daemon=..., node=...)`.
Cores do not log themselves; they return `Log` effects or take a bound logger.
"""

from __future__ import annotations

import logging
import sys
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


def configure(level: str = "info", *, json: bool = False, stream: Any = None) -> None:
    """Route structlog events to `stream` (stderr by default) as key=value or JSON lines."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    """A logger with `context` (daemon, node, ...) bound to every event."""
    return structlog.get_logger().bind(**context)
