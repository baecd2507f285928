"""The DC's startup grace: never-seen nodes are not fenced until `dc-deadtime` after this
controller started, so a node still booting is not fenced while it boots.

Pacemaker 2.1.5's controller enters S_PENDING at start and waits `dc-deadtime` (default
20 s, its election trigger) for a DC to contact it before it calls an election
(I_DC_TIMEOUT); the scheduler, which alone decides startup fencing (`handle_startup_fencing`
marks every node without a ``node_state`` unclean, with no notion of time), thus runs no
earlier than `dc-deadtime` after the first controller started, and a node booting within
that window is a member before anything plans. Ours elects as soon as every member of the
view has announced its start (cold start speed), so the DC emulates the window instead:
while ``now < started + grace`` and some configured node was never in this controller's
views, its scheduler runs with ``startup-fencing=false`` (such nodes are merely OFFLINE,
as Pacemaker shows them under that setting), and a timer (`STARTUP_GRACE_TIMER`) replans
when the grace ends, so a node that never boots is still fenced, once, then.

`grace` is the configured `dc-deadtime`, or Pacemaker's default 20 s when the CIB sets none
(our election's own `dc-deadtime` default is 2 s for fast failover; that shortcut must not
shorten the window a booting node has in Pacemaker). `started` is the `now` of this
controller's start (monotonic in the daemon, the fake clock in the simulator). A DC that
started long ago (a failover) has no grace left and plans exactly as Pacemaker's does.

Invariants: pure (time arrives as arguments); only nodes without a ``node_state`` are
affected (startup-fencing means nothing for the others); the timer is armed at most once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from messaging.effects import ArmTimer, Log

STARTUP_GRACE_TIMER = "crmd:startup-grace"
PACEMAKER_DC_DEADTIME = 20.0  # Pacemaker's dc-deadtime default (controld_control.c)
_BOOTSTRAP = "cib-bootstrap-options"


@dataclass(slots=True)
class StartupGrace:
    """When this controller started, and whether the end of its grace is already armed."""

    started: float | None = None
    armed: bool = False

    def spares(self, now: float, grace: float, unseen: Iterable[str]
               ) -> tuple[bool, list[ArmTimer | Log]]:
        """Whether a scheduler run at `now` treats the never-seen `unseen` nodes as
        startup-fencing=false, and the effects: on the first such run, a log and the timer
        that replans at the grace's end."""
        waiting = sorted(unseen)
        if not waiting or self.started is None or now >= self.started + grace:
            return False, []
        if self.armed:
            return True, []
        self.armed = True
        until = self.started + grace
        log = Log("startup_fencing_deferred", fields=(("nodes", " ".join(waiting)),
                                                       ("until", f"{until:.3f}")))
        return True, [log, ArmTimer(STARTUP_GRACE_TIMER, until)]


def without_startup_fencing(cib: str | bytes | etree._Element) -> etree._Element:
    """`cib` (an element is changed in place) with ``startup-fencing=false`` in its
    cib-bootstrap-options, which the scheduler reads before any other property set."""
    root = etree.fromstring(cib.encode() if isinstance(cib, str) else cib) \
        if isinstance(cib, (str, bytes)) else cib
    config = root.find("configuration")
    if config is None:
        return root  # not a usable CIB: the scheduler reports it
    crm_config = config.find("crm_config")
    if crm_config is None:
        crm_config = etree.SubElement(config, "crm_config")
        config.insert(0, crm_config)
    bootstrap = next((block for block in crm_config.iterchildren("cluster_property_set")
                      if block.get("id") == _BOOTSTRAP), None)
    if bootstrap is None:
        bootstrap = etree.SubElement(crm_config, "cluster_property_set", id=_BOOTSTRAP)
    pair = next((nvpair for nvpair in bootstrap.iterchildren("nvpair")
                 if nvpair.get("name") == "startup-fencing"), None)
    if pair is None:
        pair = etree.SubElement(bootstrap, "nvpair", id=f"{_BOOTSTRAP}-startup-fencing",
                                name="startup-fencing")
    pair.set("value", "false")
    return root
