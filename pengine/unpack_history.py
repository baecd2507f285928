"""Unpack resource histories (lrm_rsc_op entries) into per-primitive state.

Invariants: entries are processed oldest first per (resource, node); a failure's on-fail
handling follows Pacemaker 2.1.5 (worst on-fail kept, see scheduler.md §1.5); orphans
(history without configuration) are appended after configured resources.
"""

from __future__ import annotations

import datetime
import functools

from messaging.types import Role
from pengine.failcounts import fail_count
from pengine.scores import INF
from pengine.state import RscState, history_entry
from pengine.unpack_nodes import NodeWork, fence
from pengine.unpack_options import Options
from pengine.unpack_resources import OpConfig, RscConfig
from pengine.xmlin import Element

ON_FAIL_RANK = ["ignore", "demote", "restart", "reset-remote", "restart-container", "migrate",
                "block", "stop", "standby", "fence"]
START_LIKE = ("start", "migrate_from")
# History bans an anonymous clone instance puts on its whole clone (resource_location on
# the clone: they show in its own allowed nodes)
CLONE_BAN_TAGS = frozenset({"masked-probe-failure", "hard-error", "fatal-error",
                            "__action_migration_auto__"})


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def target_rc(op: Element) -> int:
    key = op.get("transition-key") or ""
    parts = key.split(":")
    return _int(parts[2], 0) if len(parts) >= 3 else 0


def _magic_transition(op: Element) -> tuple[str, int]:
    """decode_transition_magic: the (TE uuid, transition number) of an entry's magic."""
    magic = op.get("transition-magic") or ""
    _, _, key = magic.partition(";")
    parts = key.split(":")
    return (parts[3] if len(parts) >= 4 else "", _int(parts[1], -1) if len(parts) >= 2 else -1)


def _compare_ops(a: Element, b: Element) -> int:
    """pe__is_newer_op on one node: call ids; equal ones by last-rc-change; a pending entry
    (call-id -1) by the transition numbers in the magic, so a pending start that a later
    transition's stop superseded sorts before that stop (735)."""
    a_call, b_call = _int(a.get("call-id"), -1), _int(b.get("call-id"), -1)
    if a.get("id") == b.get("id") or (a_call == -1 and b_call == -1):
        return 0
    if 0 <= a_call < b_call:
        return -1
    if 0 <= b_call < a_call:
        return 1
    if a_call >= 0 and b_call >= 0:
        a_change, b_change = _int(a.get("last-rc-change"), 0), _int(b.get("last-rc-change"), 0)
        return (a_change > b_change) - (a_change < b_change)
    (a_uuid, a_id), (b_uuid, b_id) = _magic_transition(a), _magic_transition(b)
    if a_uuid != b_uuid or a_id == b_id:
        return -1 if b_call == -1 else 1
    if 0 <= a_id < b_id or b_id == -1:
        return -1
    if 0 <= b_id < a_id or a_id == -1:
        return 1
    return 0


def sort_ops(ops: list[Element]) -> list[Element]:
    """Oldest first, as Pacemaker sorts one node's history (a stable merge sort)."""
    return sorted(ops, key=functools.cmp_to_key(_compare_ops))


def find_op_config(rsc: RscConfig, task: str, interval_ms: int) -> OpConfig | None:
    for op in rsc.ops:
        if op.name == task and op.interval_ms == interval_ms:
            return op
    return None


def _blocking_failure(rsc: RscConfig, ops: list[Element]) -> bool:
    """A failure of an op configured with on-fail=block: failure-timeout no longer applies.

    Pacemaker looks for entries of the configured op (its `_last_failure_0`, or its own
    `<rsc>_<op>_<interval>` entry with an unexpected rc) and then ignores the resource's
    failure-timeout for the whole run, so such a failure never expires.
    """
    base = rsc.id.split(":", 1)[0]
    for conf in rsc.ops:
        if conf.on_fail != "block":
            continue
        for op in ops:
            if op.get("operation") != conf.name or _int(op.get("interval")) != conf.interval_ms:
                continue
            if op.get("id") == f"{base}_last_failure_0" or (
                    op.get("id") == f"{base}_{conf.name}_{conf.interval_ms}"
                    and _int(op.get("rc-code"), 0) != target_rc(op)):
                return True
    return False


def on_fail_for(rsc: RscConfig, task: str, interval_ms: int, options: Options) -> str:
    """The effective on-fail of an operation (scheduler.md §1.5)."""
    op = find_op_config(rsc, task, interval_ms)
    value = (op.on_fail if op is not None else None) or _op_default(rsc, "on-fail")
    value = (value or "").lower()
    if value == "demote" and not (task == "promote" or (op and op.role == Role.PROMOTED)):
        value = ""
    if not value and task == "stop":
        value = "fence" if options.stonith_enabled else "block"
    elif not value:
        value = "restart"
    if value == "fence" and not options.stonith_enabled:
        value = "stop"
    if value not in ON_FAIL_RANK:
        value = "restart"
    return value


def _op_default(rsc: RscConfig, name: str) -> str | None:
    return None


def _op_key(op: Element) -> str:
    """get_op_key: the entry's operation_key, else its id."""
    return op.get("operation_key") or op.get("id") or ""


def _note_migrate_to(st: RscState, node: NodeWork, op: Element, succeeded: bool) -> None:
    """Remember each unpacked migrate_to (expired and cancelled ones never get here): its
    effects on the target are applied once every node's history is known."""
    if op.get("operation") == "migrate_to":
        st.migrate_to_results.append((node.name, op, succeeded, st.managed))


class HistoryUnpacker:
    """Walks the status section and fills RscState for each primitive."""

    def __init__(self, options: Options, nodes: list[NodeWork], now: datetime.datetime,
                 requests: list[tuple[str, str]], can_fence: dict[str, bool]) -> None:
        self.options = options
        self.nodes = {n.name: n for n in nodes}
        self.now = now
        self.requests = requests
        self.can_fence = can_fence
        self.failed_ops: list[Element] = []
        self._last_failure_key: str | None = None  # of the resource on the node being read
        self._started = False  # a start (or migrate_from) since it last stopped on that node

    def unpack_resource_on_node(self, rsc: RscConfig, st: RscState, node: NodeWork,
                                ops: list[Element]) -> None:
        ordered = [op for op in sort_ops(ops) if op.get("operation") not in ("notify", "meta-data")]
        st.history[node.name] = ordered
        if _blocking_failure(rsc, ordered):
            st.block_failure = True
        role = Role.UNKNOWN
        on_fail = "ignore"
        next_role_reset = False
        self._last_failure_key = None
        self._started = False
        for op in ordered:
            role, on_fail, next_role_reset = self._unpack_op(
                rsc, st, node, op, role, on_fail, next_role_reset)
        if next_role_reset and st.next_role is not None and on_fail == "ignore":
            st.next_role = None
        if role != Role.UNKNOWN:
            # process_rsc_state: a history that leaves the state unknown (only a pending or
            # an expired failed probe) does not make the node known, so it is probed again
            st.known_on.add(node.name)
        self._process_state(rsc, st, node, role, on_fail)

    def _expired(self, rsc: RscConfig, st: RscState, node: NodeWork, op: Element) -> bool:
        timeout = rsc.failure_timeout_s
        if timeout <= 0 or st.block_failure:
            return False
        if op.get("operation") == "monitor" and _int(op.get("interval")) == 0 \
                and _int(op.get("rc-code"), 0) in (0, 7, 8, 190, 191):
            return False  # check_operation_expiry never expires a probe that found a state
        lrc = op.get("last-rc-change")
        if lrc is None:
            return False
        if self.now.timestamp() < _int(lrc) + timeout:
            return False
        count, _ = fail_count(rsc, node, self.options, self.now)
        return count <= 0

    def _unpack_op(self, rsc: RscConfig, st: RscState, node: NodeWork, op: Element,
                   role: Role, on_fail: str, reset: bool) -> tuple[Role, str, bool]:
        task = op.get("operation") or ""
        interval = _int(op.get("interval"))
        rc = _int(op.get("rc-code"), 0)
        status = _int(op.get("op-status"), 0)
        expected = target_rc(op)
        is_probe = task == "monitor" and interval == 0
        if status == 1:
            return role, on_fail, reset
        if task == "monitor":
            rc = {190: 0, 191: 8}.get(rc, rc)
        # an unmanaged resource's "not running" is no failure (remapped as a stop), so a
        # failure timeout cannot expire it (seed 2116)
        failed_looking = status not in (0, -1) or (
            rc != expected and not (rc == 7 and not st.managed and status == 0))
        if failed_looking and self._expired(rsc, st, node, op):
            if interval > 0 and node.online and not node.unclean:
                # unpack_rsc_op reschedules a recurring op whose failure expired (it
                # overwrites the entry's restart digest, so the configuration check
                # forces the op to run again)
                st.expired_recurring.add(history_entry(node.name, op))
            return role, on_fail, reset
        if is_probe and (rc in (5, 2) or status == 7):
            self.failed_ops.append(op)
            st.locations.append((node.name, -INF, "masked-probe-failure"))
            return Role.STOPPED, on_fail, reset
        if status == -1:
            return _pending_role(st, node, task, role, is_probe), on_fail, reset
        result, role = self._op_status(rsc, st, task, interval, rc, status, expected, role,
                                       is_probe)
        if result == "not-running":
            return Role.STOPPED, "ignore", True
        if result == "done":
            if _int(op.get("rc-code"), 0) in (190, 191):
                self.failed_ops.append(op)  # degraded: a success that crm_mon still lists
            _note_migrate_to(st, node, op, succeeded=True)
            return self._update_state(st, task, rc, role, on_fail, reset, op)
        return self._failed_op(rsc, st, node, op, (task, interval, rc, status, expected),
                               (role, on_fail, reset, result, is_probe))

    def _failed_op(self, rsc: RscConfig, st: RscState, node: NodeWork, op: Element,
                   facts: tuple[str, int, int, int, int],
                   walk: tuple[Role, str, bool, str, bool]) -> tuple[Role, str, bool]:
        """A failure: ignored (on-fail=ignore, as a success) or handled by its on-fail."""
        task, interval, rc, status, expected = facts
        role, on_fail, reset, result, is_probe = walk
        strategy = on_fail_for(rsc, task, interval, self.options)
        if strategy == "ignore" and status == 7:
            strategy = "migrate"  # an agent that is not installed cannot be ignored
        self.failed_ops.append(op)
        _note_migrate_to(st, node, op, succeeded=strategy == "ignore")
        if strategy == "ignore":
            st.failure_ignored = True
            return self._update_state(st, task, expected, role, on_fail, reset, op)
        self._last_failure_key = _op_key(op)
        return self._failure(rsc, st, node, task, rc, result, role, on_fail, strategy, is_probe)

    def _op_status(self, rsc: RscConfig, st: RscState, task: str, interval: int, rc: int,
                   status: int, expected: int, role: Role, is_probe: bool) -> tuple[str, Role]:
        """How an operation counts ("done", "not-running" or a failure kind) and the role
        its result shows."""
        if status not in (0, 4):
            return {2: "timeout", 3: "not-supported", 5: "hard", 6: "fatal", 7: "hard"}.get(
                status, "error"), role
        if rc == 7 and (is_probe or expected == rc or not st.managed):
            return "not-running", Role.STOPPED
        if rc in (8, 9):
            role = Role.PROMOTED
        return _rc_verdict(rc, expected, interval, is_probe), role

    def _update_state(self, st: RscState, task: str, rc: int, role: Role, on_fail: str,
                      reset: bool, op: Element) -> tuple[Role, str, bool]:
        clear = False
        if rc == 7:
            clear = True
            role = Role.STOPPED
            self._started = False
        elif task == "monitor":
            role = max(role, Role.STARTED)
            # update_resource_state: a success of the very monitor that last failed here
            # clears the failure's pending on-fail (monitor-recovery).
            clear = self._last_failure_key is not None and _op_key(op) == self._last_failure_key
        elif task in ("start", "migrate_from"):
            role, clear = Role.STARTED, True
            self._started = True
        elif task == "stop":
            role, clear = Role.STOPPED, True
            self._started = False
        elif task == "promote":
            role, clear = Role.PROMOTED, True
        elif task == "demote":
            # update_resource_state: a demote clears an earlier failure only when that
            # failure's on-fail is demote (confirmed with crm_simulate on corpus
            # on_fail_demote3's simulated result, and with on-fail=restart there)
            role, clear = Role.UNPROMOTED, on_fail == "demote"
        elif task == "migrate_to":
            role = max(role, Role.STARTED)
        else:
            role = max(role, Role.STARTED)
        if clear and on_fail in ("ignore", "demote", "restart", "block", "restart-container"):
            return role, "ignore", True
        return role, on_fail, reset

    def _failure(self, rsc: RscConfig, st: RscState, node: NodeWork, task: str, rc: int,
                 result: str, role: Role, on_fail: str, strategy: str,
                 is_probe: bool) -> tuple[Role, str, bool]:
        if ON_FAIL_RANK.index(strategy) > ON_FAIL_RANK.index(on_fail):
            on_fail = strategy
        if strategy == "block":
            st.block_failure = True
        role = self._role_after_failed_task(st, node, task, rc, role, strategy)
        if is_probe and rc == 5:
            role = Role.STOPPED
        elif role < Role.STARTED:
            role = Role.STARTED
        _ban_after_failure(st, node, strategy, result)
        return role, on_fail, False

    def _role_after_failed_task(self, st: RscState, node: NodeWork, task: str, rc: int,
                                role: Role, strategy: str) -> Role:
        """The role a failed action leaves; a failed stop also bans the node, and one
        that cannot be recovered by fencing blocks the resource."""
        if task == "stop":
            st.locations.append((node.name, -INF, "__stop_fail__"))
            st.failed_stop_on.add(node.name)
            if rc in (2, 3, 4, 5) and not self.can_fence.get(node.name, False):
                st.managed = False
                st.blocked = True
        elif task == "promote":
            role = Role.PROMOTED
        elif task == "demote" and strategy == "block":
            role = Role.PROMOTED  # blocked where it failed: still promoted
        elif task == "demote":
            role = Role.STOPPED if rc == 7 else Role.UNPROMOTED
        return role

    def _process_state(self, rsc: RscConfig, st: RscState, node: NodeWork, role: Role,
                       on_fail: str) -> None:
        active = role not in (Role.UNKNOWN, Role.STOPPED)
        if active and not node.online and not node.maintenance and st.managed \
                and self.options.stonith_enabled:
            fence(node, f"{rsc.id} is thought to be active there", self.requests)
        saved = on_fail
        if node.unclean:
            on_fail = "ignore"
        self._apply_on_fail(rsc, st, node, on_fail)
        if not active:
            return
        if on_fail == "restart" and not node.online and not node.unclean and st.managed:
            # recovery creates the stop at once, while the resource still counts as managed
            # (a node's maintenance unmanages it only once it is added as running there):
            # a stop on an offline node cannot run, so the node is fenced (crm_simulate: a
            # failed start on an offline node in maintenance)
            fence(node, "stop is unrunnable", self.requests)
        if role > st.role or st.role == Role.STOPPED:
            st.role = max(role, st.role)
        if role == Role.STARTED and not self._started:
            st.set_active_on.add(node.name)
        self._add_running(rsc, st, node, saved != "ignore")
        _mark_failed(st, node, on_fail)

    def _apply_on_fail(self, rsc: RscConfig, st: RscState, node: NodeWork,
                       on_fail: str) -> None:
        """The node- or resource-wide consequence of the history's pending on-fail."""
        if on_fail == "fence":
            fence(node, f"{rsc.id} failed there", self.requests)
        elif on_fail == "standby":
            node.standby = True
            node.standby_onfail = True
        elif on_fail == "block":
            st.managed = False
            st.blocked = True
        elif on_fail == "migrate":
            st.locations.append((node.name, -INF, "__action_migration_auto__"))
        elif on_fail == "stop":
            st.next_role = Role.STOPPED

    def _add_running(self, rsc: RscConfig, st: RscState, node: NodeWork, failed: bool) -> None:
        if node.name not in st.running_on:
            st.running_on.append(node.name)
        if node.maintenance:
            st.managed = False
        if not st.managed:
            # native_add_running returns here: an unmanaged resource (is-managed=false,
            # maintenance) never gets its multiple-active policy applied
            st.locations.append((node.name, INF, "not_managed_default"))
            return
        if len(st.running_on) > 1:
            policy = rsc.multiple_active
            if policy == "stop_only":
                st.locations.append((None, -INF, "stop_only"))
            elif policy == "block":
                st.managed = False
                st.blocked = True


def _pending_role(st: RscState, node: NodeWork, task: str, role: Role,
                  is_probe: bool) -> Role:
    """An operation still in flight (op-status -1): recorded as pending (shown as
    "Starting", "Stopping", "(Monitoring)", ...); a pending start counts as started and a
    pending promote as promoted, any other leaves the role as it was."""
    if st.pending_task is None and not is_probe and task != "notify":
        st.pending_task = task
        st.pending_node = node.name
    if task == "start":
        st.start_pending = True
        st.pending_task = "start"
        st.pending_node = node.name
        return max(role, Role.STARTED)
    if task == "promote":
        return Role.PROMOTED
    return role


# Completed-operation exit codes that are failures whatever was expected.
_FAILURE_KIND = {9: "error", 6: "fatal", 2: "hard", 3: "hard", 4: "hard", 5: "hard"}


def _rc_verdict(rc: int, expected: int, interval: int, is_probe: bool) -> str:
    """How a completed operation's exit code counts: "done" or a failure kind.

    0, 7 and 8 are successes when expected; a probe also succeeds finding the resource
    promoted (8), or running (0) where stopped was expected. A recurring operation's 3
    (unimplemented) is "not-supported"; any other code is an error.
    """
    if rc in (0, 7, 8):
        probe_success = is_probe and (rc == 8 or (rc == 0 and expected == 7))
        return "done" if rc == expected or probe_success else "error"
    if rc == 3 and interval > 0:
        return "not-supported"
    return _FAILURE_KIND.get(rc, "error")


def _ban_after_failure(st: RscState, node: NodeWork, strategy: str, result: str) -> None:
    """Location bans a failure earns: on-fail=stop keeps the resource off every node, a
    hard error bans the node and a fatal error every node."""
    if strategy == "stop":
        st.next_role = Role.STOPPED
        st.locations.append((None, -INF, "__action_migration_auto__"))
    if result == "hard":
        st.locations.append((node.name, -INF, "hard-error"))
    elif result == "fatal":
        st.locations.append((None, -INF, "fatal-error"))


def _mark_failed(st: RscState, node: NodeWork, on_fail: str) -> None:
    """An active resource with a pending on-fail is failed; unless demote or block handle
    it in place, it must stop, and on-fail=restart recovers it on this node."""
    if on_fail in ("demote", "block"):
        st.failed = True
    elif on_fail != "ignore":
        st.failed = True
        st.stop_needed = True
        if on_fail == "restart":
            st.recover_on.append(node.name)
