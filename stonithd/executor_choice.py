"""Which fencer executes a device of an operation: Pacemaker 2.1.5's rule, pure.

Pacemaker's origin (fenced_remote.c: `process_remote_stonith_query`, `sort_peers`,
`stonith_choose_peer`, `find_best_peer`) keeps the query replies that name at least one
device in an ordered list: more capable devices first; among fencers with as many, the
later reply first (each reply is inserted before the first one that has as many devices).
For a device it then takes, in that list's order:

1. a fencer other than the target that reported the device *verified* (a list, monitor or
   status of it succeeded there: in a cluster, where the device's resource runs);
2. if none, and the query is still open (not every fencer has replied and the query
   timeout has not passed): nobody yet, wait for more replies;
3. a fencer other than the target that can run it, verified or not;
4. the target itself ("suicide": its controller and stonith_admin always allow it),
   never for `on` (the switch-on phase of a remapped reboot, or unfencing);
5. nobody: the operation moves to its next topology level.

The origin is not preferred: it is one fencer among the others. Without a topology
Pacemaker hands the whole operation to the first such fencer, which tries its own devices;
here every capable device is an implicit level of its own, ordered by where its best
executor stands in that list (`implicit_levels`), so the first device tried is the one the
best-ranked fencer would run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Choice:
    """`executor` runs the device; None with `wait`: ask again after the next reply or the
    query timeout; None without `wait`: no fencer can, try the next level."""

    executor: str | None
    wait: bool = False


def ranked_fencers(replies: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Fencers that named a device, in Pacemaker's order (`replies` in arrival order):
    most devices first, and among equals the latest reply first."""
    latest_first = [node for node in reversed(list(replies)) if replies[node]]
    return sorted(latest_first, key=lambda node: -len(replies[node]))  # stable


def _candidates(device: str, target: str, replies: Mapping[str, tuple[str, ...]],
                verified: Mapping[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """(verified, all) fencers other than the target able to run `device`, ranked."""
    able = [n for n in ranked_fencers(replies) if n != target and device in replies[n]]
    return [n for n in able if device in verified.get(n, ())], able


def choose_executor(device: str, target: str, action: str,
                    replies: Mapping[str, tuple[str, ...]],
                    verified: Mapping[str, tuple[str, ...]], *, query_open: bool) -> Choice:
    """The fencer to run `device` for `action` (the current phase) against `target`."""
    checked, able = _candidates(device, target, replies, verified)
    if checked:
        return Choice(checked[0])
    if query_open:
        return Choice(None, wait=True)
    if able:
        return Choice(able[0])
    if action != "on" and device in replies.get(target, ()):
        return Choice(target)
    return Choice(None)


def implicit_levels(target: str, replies: Mapping[str, tuple[str, ...]],
                    verified: Mapping[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Without topology: one level per capable device, the device whose best executor
    ranks first (verified non-target fencers, then unverified ones, then the target)
    tried first; ties by device id."""
    ranked = ranked_fencers(replies)
    devices = sorted({d for devices in replies.values() for d in devices})

    def rank(device: str) -> tuple[int, str]:
        checked, able = _candidates(device, target, replies, verified)
        if checked:
            return ranked.index(checked[0]), device
        if able:
            return len(ranked) + ranked.index(able[0]), device
        return 2 * len(ranked), device

    return [(device,) for device in sorted(devices, key=rank)]
