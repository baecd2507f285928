"""The `lrmd` fixture: one real lrmd daemon per test, stopped (and checked alive) after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lrmd_harness import Daemon, start_daemon, stop_daemon


@pytest.fixture
def lrmd(tmp_path: Path) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path)
    yield daemon
    alive = daemon.process.poll() is None
    stop_daemon(daemon)
    assert alive, f"lrmd died during the test:\n{daemon.log.read_text()}"
