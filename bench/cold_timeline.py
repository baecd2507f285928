"""Timeline of one traced cold start (bench/cold_start.py --trace DIR): where the seconds went.

    python bench/cold_timeline.py DIR/trialN FIRST_BOOT_WALL

Reads every node's launcher.log (the daemons' structured log lines) from the first boot's
wall time on and prints, in seconds from it: when each node's launcher started and its
controller started, every view the ccm of the node that ended as coordinator installed
(with its size), each node's first view, the election, the DC's join rounds and
transitions, and the first and last resource operation. Counts of views per node and of
view-driven work (cib_view, attrd_view, crmd_view, fencer_peers) and one line of phases
close the report: the last launcher and the last controller started, the join finalized,
the first transition, the last start completed and the transition finished, with the
median and largest time from a node's launcher to its controller (every join waits for
the last controller, so this and the lab's boot spread are compared between runs).
"""

from __future__ import annotations

import re
import statistics
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

LINE = re.compile(r"^(\S+)\s+\[\w+\s*\]\s+(\w+)\s*(.*)$")
PAIR = re.compile(r"(\w+)=('(?:[^']*)'|\((?:[^)]*)\)|\[(?:[^\]]*)\]|\{[^}]*\}|\S+)")
VIEW_DRIVEN = ("membership_changed", "cib_view", "attrd_view", "crmd_view", "fencer_peers")
DC_EVENTS = ("election_started", "dc_changed", "join_offered", "join_finalized",
             "transition_started", "transition_finished", "transition_aborted")


def read(log: Path, since: float) -> list[tuple[float, str, dict[str, str]]]:
    """(seconds since `since`, event, fields) of every line logged at or after it."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = LINE.match(line)
        if not match:
            continue
        stamp = datetime.fromisoformat(match[1].replace("Z", "+00:00")).timestamp()
        if stamp >= since:
            found.append((stamp - since, match[2], dict(PAIR.findall(match[3]))))
    return found


def main() -> None:
    trial, since = Path(sys.argv[1]), float(sys.argv[2])
    logs = {node.name: read(node / "launcher.log", since)
            for node in sorted(trial.iterdir(), key=lambda p: int(p.name[1:]))}
    rows: list[tuple[float, str]] = []
    counts: Counter[str] = Counter()
    for node, lines in logs.items():
        first_view = True
        for at, event, fields in lines:
            if event in VIEW_DRIVEN:
                counts[event] += 1
            if event == "zygote_started":
                rows.append((at, f"{node} launcher started"))
            elif event == "crmd_started":
                rows.append((at, f"{node} crmd started"))
            elif event == "membership_changed" and (first_view or fields.get(
                    "coordinator") == node):
                size = fields.get("members", "").count("'") // 2
                rows.append((at, f"{node} view {fields.get('view_id')} of {size} "
                                 f"(coordinator {fields.get('coordinator')})"))
                first_view = False
            elif event in DC_EVENTS or (event == "fsa_input" and fields.get(
                    "to") in ("S_IDLE", "S_INTEGRATION", "S_FINALIZE_JOIN", "S_POLICY_ENGINE")):
                detail = " ".join(f"{k}={v}" for k, v in fields.items()
                                  if k not in ("daemon", "node"))[:110]
                rows.append((at, f"{node} {event} {detail}"))
            elif event == "op_completed" and "dummy" in fields.get("op_key", ""):
                rows.append((at, f"{node} {fields['op_key']} rc={fields.get('rc')}"))
    for at, text in sorted(rows):
        print(f"{at:7.2f}  {text}")
    print(", ".join(f"{event} {counts[event]}" for event in VIEW_DRIVEN),
          f"(over {len(logs)} nodes)")
    print(phases(logs))


def phases(logs: dict[str, list[tuple[float, str, dict[str, str]]]]) -> str:
    """One line: when the boot's phases ended, in seconds from the first boot."""
    launched: dict[str, float] = {}
    controller: dict[str, float] = {}
    marks: dict[str, float] = {}
    for node, lines in logs.items():
        for at, event, fields in lines:
            if event == "zygote_started":
                launched[node] = at
                controller.pop(node, None)
            elif event == "crmd_started":
                controller[node] = at
            elif event == "fsa_input" and fields.get("input") == "I_FINALIZED":
                marks.setdefault("finalized", at)
            elif event in ("transition_started", "transition_finished"):
                marks.setdefault(event.replace("_", " "), at)
            elif event == "op_completed" and "_start_0" in fields.get("op_key", ""):
                marks["last start"] = max(marks.get("last start", 0.0), at)
    chains = [controller[n] - launched[n] for n in controller if n in launched]
    if not chains:
        return "phases: no controller started"
    ends = {"last launcher": max(launched.values()), "last crmd": max(controller.values()),
            **marks}
    in_order = sorted(ends.items(), key=lambda item: item[1])
    return ("phases: " + ", ".join(f"{k} {v:.2f}" for k, v in in_order)
            + f"; launcher to crmd median {statistics.median(chains):.2f} max {max(chains):.2f}")


if __name__ == "__main__":
    main()
