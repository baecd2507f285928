"""The controller core's timer settings, grouped: election, join, presence, the recheck
interval, the fencing attempt limit and the startup grace (`crmd.options` reads them from
``crm_config``).

Invariant: frozen; a change of cluster options makes a new value (`Controller.retime`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crmd.election import ElectionTiming
from crmd.join import JoinTiming
from crmd.presence import PresenceTiming
from crmd.startup_grace import PACEMAKER_DC_DEADTIME


@dataclass(frozen=True, slots=True)
class ControllerTiming:
    election: ElectionTiming = field(default_factory=ElectionTiming)
    join: JoinTiming = field(default_factory=JoinTiming)
    recheck_interval: float = 900.0  # cluster-recheck-interval (15min)
    stonith_max_attempts: int = 10
    presence: PresenceTiming = field(default_factory=PresenceTiming)
    startup_grace: float = PACEMAKER_DC_DEADTIME  # dc-deadtime as configured (crmd.startup_grace)
