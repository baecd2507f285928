"""`--update-golden` for the scenario transcripts (registered here unless tests/conftest.py did)."""

from __future__ import annotations

import contextlib

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    with contextlib.suppress(ValueError):  # another conftest may register the same option
        parser.addoption("--update-golden", action="store_true", default=False,
                         help="rewrite golden transcripts from the current output")
