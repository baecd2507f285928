"""Daemons do not import what they never use: each import costs every node's memory.

rich and pygments come in through structlog.dev (pretty tracebacks, ~2.5 MB per process);
importlib.metadata pulls in email, zipfile and csv and is only needed by the root
`hacluster` group to list its entry points. A fresh interpreter imports a daemon's entry
module and reports which of those modules got loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

UNUSED = ("rich", "pygments", "importlib.metadata", "email", "zipfile", "networkx", "pyroute2")
ENTRIES = ("messaging.heartbeat.__main__", "ccm.__main__", "lrmd.__main__",
           "stonithd.__main__", "cib.attrd_daemon", "messaging.launcher")


def _loaded_after_import(module: str) -> list[str]:
    code = (f"import importlib, json, sys; importlib.import_module({module!r}); "
            f"print(json.dumps([m for m in {list(UNUSED)!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("entry", ENTRIES)
def test_daemon_entry_imports_nothing_it_does_not_use(entry: str) -> None:
    assert _loaded_after_import(entry) == []


def test_structlog_without_rich_still_lets_a_tool_import_rich() -> None:
    code = ("import sys, messaging.logs, structlog; assert 'rich' not in sys.modules; "
            "import rich.console; print(rich.console.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "rich.console"
