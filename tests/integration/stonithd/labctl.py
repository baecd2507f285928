"""A small real lab for fence_lab tests: each node is a process group in its own netns.

    labctl.py --dir DIR start NODE | kill NODE | status --json

DIR/nodes/NODE holds the node's network namespace name. `start` launches a small process
tree (a shell and two sleeps) inside that namespace in a new session; `kill` SIGKILLs the
group; `status --json` prints {"nodes": {NODE: {"running": bool, "pids": [...]}}} from
/proc (zombies count as gone). This is what `hacluster lab` promises fence_lab, for real.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return sorted(members)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("command", choices=["start", "kill", "status"])
    parser.add_argument("node", nargs="?")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    nodes = {p.name: p.read_text().strip() for p in (args.dir / "nodes").iterdir()}
    if args.command == "status":
        report = {}
        for name in sorted(nodes):
            pgid_file = args.dir / f"{name}.pgid"
            pids = group_members(int(pgid_file.read_text())) if pgid_file.exists() else []
            report[name] = {"running": bool(pids), "pids": pids, "netns": nodes[name]}
        print(json.dumps({"nodes": report}))
        return 0
    if args.node not in nodes:
        print(f"labctl: no node {args.node}", file=sys.stderr)
        return 2
    pgid_file = args.dir / f"{args.node}.pgid"
    if args.command == "kill":
        if pgid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pgid_file.read_text()), signal.SIGKILL)
        return 0
    proc = subprocess.Popen(["ip", "netns", "exec", nodes[args.node], "sh", "-c",
                             "sleep 1000 & sleep 1000 & wait"], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    pgid_file.write_text(str(proc.pid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
