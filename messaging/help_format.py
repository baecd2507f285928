"""argparse's help formatter without its start-up cost, for every argparse command.

argparse builds a `HelpFormatter` for each option it adds, and the formatter finds the
terminal width with shutil.get_terminal_size: importing shutil (and through it zlib, bz2
and lzma) cost each command ~10 ms before it did anything. `HelpFormatter` here finds the
width the way shutil does ($COLUMNS, then the terminal of stdout, else 80) with os alone.
"""

from __future__ import annotations

import argparse
import os
import sys


class HelpFormatter(argparse.HelpFormatter):
    """argparse.HelpFormatter, its width found without importing shutil."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else stdout's terminal, else 80."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80
