"""The controller's cluster options: its timers read from the CIB's ``crm_config``.

Pacemaker's controller reads these cluster properties (`controld_control.c`'s option table,
re-read on every configuration change by `config_query_callback`):

| property | Pacemaker's default | ours when unset |
|---|---|---|
| ``election-timeout`` | 2min | 2s |
| ``dc-deadtime`` | 20s | 2s |
| ``join-integration-timeout`` | 3min | 3min |
| ``join-finalization-timeout`` | 30min | 30min |
| ``cluster-recheck-interval`` | 15min | 15min |
| ``stonith-max-attempts`` | 10 | 10 |

Our election defaults are short on purpose: a new DC within seconds is what the lab and its
failover benchmark measure, and our election decides as soon as every live controller
answered (the timeout only covers lost messages). Set the properties to Pacemaker's values
to get its behaviour. ``dc-deadtime`` also sets the DC's startup grace (`crmd.startup_grace`:
never-seen nodes are not fenced that long after its start), 20s when unset as in Pacemaker,
whose controllers wait that long before electing. A value that does not parse keeps the
default (Pacemaker logs it and uses the default too). Pure: XML text in, a `ControllerTiming` out.
"""

from __future__ import annotations

import dataclasses

from lxml import etree

from crmd.election import ElectionTiming
from crmd.join import JoinTiming
from crmd.timing import ControllerTiming
from pengine.api import duration_ms

_UNSET = -1
# Every cluster property `controller_timing` reads: a change of another one leaves the
# timing as it is (`crmd.cib_events` marks such changes, so the daemon does not re-query).
TIMING_OPTIONS = frozenset({"election-timeout", "dc-deadtime", "join-integration-timeout",
                            "join-finalization-timeout", "cluster-recheck-interval",
                            "stonith-max-attempts"})


def _seconds(options: dict[str, str], name: str, default: float) -> float:
    milliseconds = duration_ms(options.get(name), _UNSET)
    return default if milliseconds < 0 else milliseconds / 1000.0


def cluster_options(crm_config_xml: str | None) -> dict[str, str]:
    """Every ``cluster_property_set`` nvpair of a ``crm_config`` (or whole CIB) text;
    the first set that names an option wins, as in Pacemaker."""
    options: dict[str, str] = {}
    if not crm_config_xml:
        return options
    root = etree.fromstring(crm_config_xml.encode())
    for pair in root.iter("nvpair"):
        parent = pair.getparent()
        name, value = pair.get("name"), pair.get("value")
        if parent is not None and parent.tag == "cluster_property_set" and name \
                and value is not None and value != "#default":
            options.setdefault(name, value)
    return options


def controller_timing(crm_config_xml: str | None,
                      base: ControllerTiming | None = None) -> ControllerTiming:
    """`base` (default: `ControllerTiming()`) with every option the CIB sets applied."""
    base = base or ControllerTiming()
    options = cluster_options(crm_config_xml)
    election = ElectionTiming(
        election_timeout=_seconds(options, "election-timeout",
                                  base.election.election_timeout),
        dc_deadtime=_seconds(options, "dc-deadtime", base.election.dc_deadtime),
        holdoff=base.election.holdoff)
    join = JoinTiming(
        integration_timeout=_seconds(options, "join-integration-timeout",
                                     base.join.integration_timeout),
        finalization_timeout=_seconds(options, "join-finalization-timeout",
                                      base.join.finalization_timeout))
    attempts = options.get("stonith-max-attempts", "")
    return dataclasses.replace(
        base, election=election, join=join,
        recheck_interval=_seconds(options, "cluster-recheck-interval", base.recheck_interval),
        startup_grace=_seconds(options, "dc-deadtime", base.startup_grace),
        stonith_max_attempts=int(attempts) if attempts.isdigit() and int(attempts) > 0
        else base.stonith_max_attempts)
