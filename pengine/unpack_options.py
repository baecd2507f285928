"""Unpack cluster options (crm_config) and the <cib> attributes the scheduler reads.

Invariant: the result is a frozen Options value; unknown options are kept verbatim in
`raw` so the status printer can show them.
"""

from __future__ import annotations

import datetime

from messaging.record import Record
from pengine.rules import RuleContext, evaluate
from pengine.xmlin import Element, is_true, nvpairs

_FEATURE_SET_PER_OP = (3, 0, 13)


class Options(Record):
    """Cluster options with Pacemaker 2.1.5 defaults."""

    __slots__ = ("concurrent_fencing", "dc_uuid", "have_quorum", "have_watchdog",
                 "maintenance_mode", "no_quorum_policy", "per_op_failcounts",
                 "placement_strategy", "raw", "shutdown_lock",
                 "start_failure_is_fatal", "startup_fencing", "startup_probes", "stonith_action",
                 "stonith_enabled", "stop_all_resources", "stop_orphan_actions",
                 "stop_orphan_resources", "symmetric")

    def __init__(self, symmetric: bool, stonith_enabled: bool, stonith_action: str,
                 no_quorum_policy: str, have_quorum: bool, maintenance_mode: bool,
                 stop_orphan_resources: bool, stop_orphan_actions: bool,
                 start_failure_is_fatal: bool, startup_probes: bool, startup_fencing: bool,
                 stop_all_resources: bool, placement_strategy: str, per_op_failcounts: bool,
                 dc_uuid: str | None, have_watchdog: bool, shutdown_lock: bool,
                 raw: tuple[tuple[str, str], ...], concurrent_fencing: bool = False) -> None:
        self.symmetric = symmetric
        self.stonith_enabled = stonith_enabled
        self.stonith_action = stonith_action
        self.no_quorum_policy = no_quorum_policy
        self.have_quorum = have_quorum
        self.maintenance_mode = maintenance_mode
        self.stop_orphan_resources = stop_orphan_resources
        self.stop_orphan_actions = stop_orphan_actions
        self.start_failure_is_fatal = start_failure_is_fatal
        self.startup_probes = startup_probes
        self.startup_fencing = startup_fencing
        self.stop_all_resources = stop_all_resources
        self.placement_strategy = placement_strategy
        self.per_op_failcounts = per_op_failcounts
        self.dc_uuid = dc_uuid
        self.have_watchdog = have_watchdog
        self.shutdown_lock = shutdown_lock
        self.raw = raw
        self.concurrent_fencing = concurrent_fencing


def _feature_set(text: str | None) -> tuple[int, ...]:
    if not text:
        return (0,)
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def unpack_options(root: Element, now: datetime.datetime) -> Options:
    """Read crm_config (cib-bootstrap-options first) and <cib> attributes."""
    config = root.find("configuration/crm_config")
    blocks = [] if config is None else config.findall("cluster_property_set")
    bootstrap = next((b for b in blocks if b.get("id") == "cib-bootstrap-options"), None)
    ctx = RuleContext(now=now)
    values = nvpairs(blocks, lambda rule: evaluate(rule, ctx), first=bootstrap)
    stonith = is_true(values.get("stonith-enabled"), True)
    quorum = is_true(root.get("have-quorum"), False)
    policy = (values.get("no-quorum-policy") or "stop").lower()
    if policy == "suicide" and not (stonith and (quorum or root.get("no-quorum-panic"))):
        policy = "stop"
    action = (values.get("stonith-action") or "reboot").lower()
    if action == "poweroff":
        action = "off"
    return Options(
        symmetric=is_true(values.get("symmetric-cluster"), True),
        stonith_enabled=stonith,
        stonith_action=action,
        no_quorum_policy=policy,
        have_quorum=quorum,
        maintenance_mode=is_true(values.get("maintenance-mode"), False),
        stop_orphan_resources=is_true(values.get("stop-orphan-resources"), True),
        stop_orphan_actions=is_true(values.get("stop-orphan-actions"), True),
        start_failure_is_fatal=is_true(values.get("start-failure-is-fatal"), True),
        startup_probes=is_true(values.get("enable-startup-probes"), True),
        startup_fencing=is_true(values.get("startup-fencing"), True),
        stop_all_resources=is_true(values.get("stop-all-resources"), False),
        placement_strategy=(values.get("placement-strategy") or "default").lower(),
        per_op_failcounts=_feature_set(root.get("crm_feature_set")) >= _FEATURE_SET_PER_OP,
        dc_uuid=root.get("dc-uuid"),
        have_watchdog=is_true(values.get("have-watchdog"), False),
        shutdown_lock=is_true(values.get("shutdown-lock"), False),
        raw=tuple(sorted(values.items())),
        # Pacemaker 2.1.5's default is false (pacemaker-schedulerd metadata)
        concurrent_fencing=is_true(values.get("concurrent-fencing"), False),
    )
