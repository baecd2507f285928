"""The fencing history every fencer keeps in memory (pure).

Entries are keyed by operation id; recording an id again replaces the entry in place, so a
pending entry becomes done/failed when the result arrives. Like Pacemaker, at most 500
entries are kept: when more arrive the oldest are dropped down to the newest 250.
"""

from __future__ import annotations

from stonithd.api import HistoryEntry, OpState

MAX_ENTRIES = 500
TRIM_TO = 250


class History:
    """Ordered fencing operations, oldest first."""

    def __init__(self) -> None:
        self._entries: dict[str, HistoryEntry] = {}

    def record(self, entry: HistoryEntry) -> None:
        self._entries[entry.op_id] = entry
        if len(self._entries) > MAX_ENTRIES:
            keep = list(self._entries.items())[-TRIM_TO:]
            self._entries = dict(keep)

    def merge(self, entry: HistoryEntry) -> None:
        """Take a peer's entry unless ours already says more (a completed state wins)."""
        ours = self._entries.get(entry.op_id)
        if ours is None or (ours.state == OpState.PENDING and entry.state != OpState.PENDING):
            self.record(entry)

    def get(self, op_id: str) -> HistoryEntry | None:
        return self._entries.get(op_id)

    def __len__(self) -> int:
        return len(self._entries)

    def for_target(self, target: str) -> tuple[HistoryEntry, ...]:
        """Entries for `target` ('*' = all): pending ones first (newest first), then the
        completed ones by completion time, newest first."""
        chosen = [e for e in self._entries.values() if target in ("*", e.target)]
        chosen.reverse()
        pending = [e for e in chosen if e.state == OpState.PENDING]
        completed = sorted((e for e in chosen if e.state != OpState.PENDING),
                           key=lambda e: -e.completed)
        return tuple(pending + completed)

    def cleanup(self, target: str) -> int:
        """Forget completed operations on `target` ('*' = all); return how many."""
        doomed = [k for k, e in self._entries.items()
                  if target in ("*", e.target) and e.state != OpState.PENDING]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def last_success(self, target: str, action: str | None = None) -> HistoryEntry | None:
        """The most recently completed successful operation on `target` (optionally one action)."""
        best: HistoryEntry | None = None
        for entry in self._entries.values():
            if entry.target != target or entry.state != OpState.DONE:
                continue
            if action is not None and entry.action != action:
                continue
            if best is None or entry.completed >= best.completed:
                best = entry
        return best
