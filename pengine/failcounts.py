"""Fail counts from node attributes (fail-count-*, last-failure-*).

Invariant: with crm_feature_set >= 3.0.13 only per-operation names count
(`fail-count-<rsc>#<op>_<interval>`), otherwise only the legacy `fail-count-<rsc>`;
the effective count is 0 once failure-timeout has passed since the last failure.
"""

from __future__ import annotations

import datetime
import functools
import re

from pengine.scores import add, char2score
from pengine.unpack_nodes import NodeWork
from pengine.unpack_options import Options
from pengine.unpack_resources import RscConfig


def _base_name(rid: str) -> str:
    return rid.split(":", 1)[0]


@functools.lru_cache(maxsize=4096)
def _patterns(base: str, per_op: bool,
              unique: bool = False) -> tuple[re.Pattern[str], re.Pattern[str]]:
    name = re.escape(base)
    # generate_fail_regex: only a globally unique instance keeps its own number
    # (rsc_fail_name); anything else matches any instance number or none.
    suffix = "" if unique else r"(:\d+)?"
    if per_op:
        op = r".+_\d+"
        return (re.compile(rf"^fail-count-{name}{suffix}#{op}$"),
                re.compile(rf"^last-failure-{name}{suffix}#{op}$"))
    return (re.compile(rf"^fail-count-{name}{suffix}$"),
            re.compile(rf"^last-failure-{name}{suffix}$"))


def has_failure_attributes(node: NodeWork) -> bool:
    """Any fail-count-* or last-failure-* attribute on the node? (Without one, every fail
    count there is 0.)"""
    return any(k.startswith(("fail-count-", "last-failure-")) for k in node.attrs)


def raw_fail_count(rsc: RscConfig, node: NodeWork, options: Options) -> tuple[int, int]:
    """(sum of fail counts, latest last-failure epoch or 0) for rsc on node.

    Every operation's count adds up, even when Pacemaker asks about one history entry
    (crm_simulate: an old probe entry with an expired monitor fail count clears it).
    """
    if not has_failure_attributes(node):
        return 0, 0
    # pe__unpack_resource makes every primitive outside a clone unique, a top-level orphan
    # "d:3" of a unique clone too: its fail count is its own name's only
    unique = rsc.unique or rsc.parent is None
    name = rsc.id if unique else _base_name(rsc.id)
    count_re, last_re = _patterns(name, options.per_op_failcounts, unique)
    count = 0
    last = 0
    for key, value in node.attrs.items():
        if count_re.match(key):
            count = add(count, char2score(value))
        elif last_re.match(key):
            # an epoch, read as a plain integer (pcmk__scan_ll), not as a score: a score
            # would cap it at INFINITY (1000000) and every failure would look expired
            last = max(last, _epoch(value))
    return count, last


def _epoch(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        return 0


def fail_count(
    rsc: RscConfig, node: NodeWork, options: Options, now: datetime.datetime,
    *, block_failure: bool = False,
) -> tuple[int, int]:
    """Effective fail count (0 when expired by failure-timeout) and last failure."""
    count, last = raw_fail_count(rsc, node, options)
    timeout = rsc.failure_timeout_s
    if count > 0 and timeout > 0 and last > 0 and not block_failure \
            and now.timestamp() > last + timeout:
        return 0, last
    return count, last
