"""Structured logging setup (structlog): event names in snake_case with bound context.

Daemons call `configure()` once in `__main__`, then `get_logger(daemon=..., node=...)`.
Cores do not log themselves; they return `Log` effects or take a bound logger.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


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
