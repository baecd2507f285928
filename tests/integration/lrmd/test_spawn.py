"""lrmd.spawn with real /bin/sh children: exit codes, output limits, signals, and the
worker-thread fallback used where pidfds do not exist."""

from __future__ import annotations

import asyncio
import os

import pytest

from lrmd.spawn import spawn


def _run(script: str, limit: int = 1000) -> tuple[int, bytes, bytes]:
    return asyncio.run(spawn(["/bin/sh", "-c", script], {"PATH": "/usr/bin:/bin"}, limit=limit))


def test_exit_code_and_streams() -> None:
    assert _run("echo out; echo err >&2; exit 3") == (3, b"out\n", b"err\n")


def test_output_beyond_the_limit_is_dropped_not_blocking() -> None:
    rc, out, err = _run("head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2", limit=100)
    assert (rc, len(out), len(err)) == (0, 100, 100)


def test_killed_child_reports_minus_signal() -> None:
    assert _run("kill -9 $$")[0] == -9


def test_missing_program_raises() -> None:
    with pytest.raises(FileNotFoundError):
        asyncio.run(spawn(["/nonexistent/agent"], {}, limit=10))


def test_without_pidfd_the_exit_is_still_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pidfd(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    assert _run("echo via-thread; exit 4") == (4, b"via-thread\n", b"")
