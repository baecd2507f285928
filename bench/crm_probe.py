"""Reading a running cluster's state through Pacemaker's command-line tools, ours or Debian's.

Both sides of a benchmark ask the same questions the same way: where does resource R run
(`crm_resource --locate`), who is the DC and is every node online and every resource
started with nothing in flight (`crm_mon -1` text, as Pacemaker prints it) and is the DC
idle (`crmadmin -q -S DC` says S_IDLE; skipped while our crmadmin does not exist). `run(node,
bash)` runs a command inside a node; `bindir` says whose tools (ours live in this
checkout's virtualenv and are never confused with Debian's /usr/sbin ones).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

Runner = Callable[[str, str], str]
OUR_BIN = Path(sys.executable).parent
DUMMY = ('<primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy"><operations>'
         '<op id="dummy-monitor-10s" name="monitor" interval="10s" timeout="20s"/>'
         '</operations></primitive>')


def tool(bindir: Path | None, name: str) -> str:
    return str(bindir / name) if bindir else name


def locate(run: Runner, node: str, bindir: Path | None, rsc: str = "dummy") -> list[str]:
    """The nodes `crm_resource --locate` reports for `rsc` (empty if stopped or no answer)."""
    try:
        out = run(node, f"{tool(bindir, 'crm_resource')} --locate -r {rsc} 2>/dev/null")
    except RuntimeError:
        return []
    return re.findall(r"is running on: (\S+)", out)


def stable(run: Runner, node: str, bindir: Path | None, nodes: int) -> bool:
    """DC elected, `nodes` online, nothing stopped, starting, stopping or failed."""
    try:
        out = run(node, f"{tool(bindir, 'crm_mon')} -1 2>&1")
    except RuntimeError:
        return False
    online = re.search(r"Online: \[ ([^\]]*) \]", out)
    dc = re.search(r"Current DC: (\S+)", out)
    settled = (dc is not None and dc.group(1) != "NONE" and online is not None
               and len(online.group(1).split()) >= nodes
               and not re.search(r"Stopped|Starting|Stopping|FAILED|Pending", out))
    return settled and dc_idle(run, node, bindir, dc.group(1))  # type: ignore[union-attr]


def dc_idle(run: Runner, node: str, bindir: Path | None, dc: str) -> bool:
    """`crmadmin -q -S DC` says S_IDLE (true when our crmadmin does not exist yet)."""
    if bindir is not None and not (bindir / "crmadmin").exists():
        return True
    try:
        return "S_IDLE" in run(node, f"{tool(bindir, 'crmadmin')} -q -S {dc} 2>&1")
    except RuntimeError:
        return False


def wait_stable(run: Runner, node: str, bindir: Path | None, nodes: int,
                timeout: float = 300, poll: float = 0.1) -> float | None:
    """Seconds until `stable`, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if stable(run, node, bindir, nodes):
            return time.monotonic() - started
        time.sleep(poll)
    return None
