"""When an operation's origin may stop waiting for capability replies and start fencing.

Pacemaker's fencer (fenced_remote.c, query-reply handling) starts an operation's first
device before every fencer has answered its query when:

* without a topology for the target: a fencer other than the target replied naming at
  least one *verified* device (one whose list, monitor or status succeeded on that
  fencer, i.e. where the device's resource runs), so a working executor is known;
* with a topology: every device of every level of the target's topology is known from
  some fencer's reply (for off/reboot, replies of the target itself do not count), so
  no level is skipped for want of a late reply.

Otherwise the origin waits until all fencers replied (or the query times out). A reply
after such an early start still counts: its fencer may execute, and without topology its
new devices are tried after the planned ones (`unplanned`). Pure: replies arrive as plain
mappings, nothing is kept here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def can_start_early(target: str, action: str, replies: Mapping[str, tuple[str, ...]],
                    verified: Mapping[str, tuple[str, ...]],
                    topology: Iterable[tuple[str, ...]]) -> bool:
    """True when the replies so far are enough to start fencing `target`.

    Args:
        replies: fencer -> devices it reported able to fence the target.
        verified: fencer -> those of its devices it reported verified.
        topology: the devices of each of the target's levels; empty without topology.
    """
    levels = [devices for devices in topology if devices]
    if levels:
        skip_target = action in ("off", "reboot")
        known = {device for node, devices in replies.items()
                 if not (skip_target and node == target) for device in devices}
        return all(device in known for devices in levels for device in devices)
    return any(node != target and set(verified.get(node, ())) & set(devices)
               for node, devices in replies.items())


def unplanned(plan: list[tuple[str, ...]], devices: tuple[str, ...]) -> list[tuple[str, ...]]:
    """One level per device of a late reply that the plan (made without topology, before
    that reply came) does not hold yet, so it is tried if the planned ones fail."""
    planned = {device for level in plan for device in level}
    return [(device,) for device in sorted(set(devices) - planned)]
