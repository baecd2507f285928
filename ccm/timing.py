"""The membership core's protocol timers (`Timing`), derived from heartbeat's keepalive.

Invariant: frozen; every value is in seconds and the defaults are what the unit tests of
`ccm.core` assume (join batching off); `for_keepalive` is what the daemon and the simulator
use.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timing:
    """Protocol timers in seconds; `for_keepalive` derives sane values from the heartbeat."""

    settle: float = 1.0
    proposal_timeout: float = 0.5
    retry_delay: float = 0.2
    check_interval: float = 0.5
    hold: float = 0.5
    gossip_interval: float = 1.0
    join_quiet: float = 0.0  # a round for joiners waits until none came for this long
    join_max: float = 0.0  # ... but no longer than this after the first one waiting
    reach_delay: float = 0.0  # a status change's Reach waits this long for the next ones

    @classmethod
    def for_keepalive(cls, keepalive: float, nodes: int = 1) -> Timing:
        """Timers for heartbeat's `keepalive` in a cluster of `nodes`. The gossip interval
        grows with the cluster so each node receives at most one gossip per keepalive (at
        16 nodes and 200 ms, 15 a second were a third of an idle node's work). A booting
        node hears the running ones within one keepalive grid tick: their ups share one
        Reach after `reach_delay` (at 16 nodes booting together each node sent 15)."""
        return cls(
            settle=max(0.2, 2 * keepalive),
            proposal_timeout=max(0.2, 2 * keepalive),
            retry_delay=max(0.05, keepalive / 2),
            check_interval=max(0.1, keepalive),
            hold=max(0.2, 2 * keepalive),
            gossip_interval=max(1.0, 5 * keepalive, (nodes - 1) * keepalive),
            join_quiet=max(0.2, 4 * keepalive),
            join_max=max(0.8, 10 * keepalive),
            reach_delay=keepalive / 10,
        )
