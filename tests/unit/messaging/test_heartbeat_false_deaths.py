"""False deaths under packet loss: a simulated hour at 30% loss, deadtime = 8 x keepalive.

A peer is declared dead only after a silence of deadtime. With keepalives on a fixed grid
and timers at most one keepalive late, a silence of 8 keepalives needs at least 7 beats in
a row lost, so the expected number of false deaths per observer is at most
beats x p**7 (a run of 7 losses starting at a given beat). The simulation must stay below
the 99.9th percentile of a Poisson count with that mean. Timers fire up to a quarter
keepalive late, as on a loaded host: a keepalive re-armed from its (late) firing time
instead of its grid stretches every interval and exceeds the bound several times over.
"""

from __future__ import annotations

import math

from lab.sim import heartbeat_simulation
from messaging.auth import AuthKey, KeyRing
from messaging.effects import ArmTimer, TimerFired
from messaging.heartbeat.core import CoreSettings, HeartbeatCore
from messaging.heartbeat.events import Started
from messaging.heartbeat.liveness import Timing

KEYS = KeyRing(1, (AuthKey(1, "sha1", b"test-secret"),))
KEEPALIVE = 0.2
TIMING = Timing(KEEPALIVE, 4 * KEEPALIVE, 8 * KEEPALIVE, 10 * KEEPALIVE)
LOSS = 0.3
HOUR = 3600.0


def poisson_quantile(mean: float, q: float) -> int:
    """Smallest k with P(X <= k) >= q for X ~ Poisson(mean)."""
    k, term = 0, math.exp(-mean)
    total = term
    while total < q:
        k += 1
        term *= mean / k
        total += term
    return k


def false_deaths(seed: int) -> int:
    net = heartbeat_simulation(["a", "b"], KEYS, TIMING, seed=seed)
    net.network.links["eth0"].drop = LOSS
    net.network.links["eth0"].jitter = 0.002
    net.timer_lateness = KEEPALIVE / 2
    net.start()
    net.run_for(HOUR)
    return sum(1 for node in net.names for log in net.daemon(node, "heartbeat").log.records
               if log.event == "node_dead")


def test_an_hour_at_30_percent_loss_stays_within_the_binomial_bound() -> None:
    beats = HOUR / KEEPALIVE
    observers = 2  # a watches b, b watches a
    mean_bound = observers * beats * (1 - LOSS) * LOSS ** 7
    limit = poisson_quantile(mean_bound, 0.999)
    deaths = false_deaths(seed=7)
    assert deaths <= limit, f"{deaths} false deaths/hour, bound {limit} (mean <= {mean_bound:.1f})"


def test_a_late_keepalive_timer_does_not_shift_the_grid() -> None:
    core = HeartbeatCore(CoreSettings("a", "test", 1, TIMING, ("eth0",), ("a", "b"), KEYS))
    arms = [e.deadline for e in core.handle(Started(100.0)) if isinstance(e, ArmTimer)
            and e.key == "keepalive"]
    assert arms == [100.2]
    late = core.handle(TimerFired("keepalive", 100.29))  # fired 90 ms late
    assert [e.deadline for e in late if isinstance(e, ArmTimer)] == [100.4]
    stalled = core.handle(TimerFired("keepalive", 101.0))  # stalled past several beats
    assert [e.deadline for e in stalled if isinstance(e, ArmTimer)] == [101.2]
