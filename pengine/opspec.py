"""crm_simulate's operation specs: `${resource}_${task}_${interval_ms}@${node}=${rc}`.

Parsing follows Pacemaker 2.1.5: the spec is read like `sscanf("%[^@]@%[^=]=%d")` (so
`rc` may be followed by anything, and "Only found N fields" counts what was read), then
the operation key is split at its last two underscores, except for tasks that contain one
(migrate_to, migrate_from, ...). A malformed spec is a message, not an exception: the
caller skips it, as Pacemaker does.
"""

from __future__ import annotations

import re

from messaging.record import Record

_MULTIWORD_TASKS = ("migrate_to", "migrate_from", "clear_failcount", "lrm_delete",
                    "lrm_refresh", "pre_notify", "post_notify", "confirmed-pre_notify",
                    "confirmed-post_notify")
_RC = re.compile(r"\s*([+-]?\d+)")


class OpSpec(Record):
    """One parsed spec: the operation, where it ran and the result it returned."""

    __slots__ = ("interval_ms", "node", "rc", "resource", "task", "text")

    def __init__(self, text: str, resource: str, task: str, interval_ms: int, node: str,
                 rc: int) -> None:
        self.text = text
        self.resource = resource
        self.task = task
        self.interval_ms = interval_ms
        self.node = node
        self.rc = rc


def parse_operation_key(key: str) -> tuple[str, str, int] | None:
    """(resource, task, interval in ms) of an operation key, or None when it is not one."""
    head, sep, interval = key.rpartition("_")
    if not sep or not interval.isdigit():
        return None
    for task in _MULTIWORD_TASKS:
        if head.endswith("_" + task) and len(head) > len(task) + 1:
            return head[: -len(task) - 1], task, int(interval)
    resource, sep, task = head.rpartition("_")
    if not sep or not resource or not task:
        return None
    return resource, task, int(interval)


def _fields(text: str) -> tuple[list[str], int | None]:
    """What `sscanf(text, "%[^@]@%[^=]=%d")` reads: the strings and the rc."""
    key, at, rest = text.partition("@")
    if not key:
        return [], None
    if not at:
        return [key], None
    node, equals, rc_text = rest.partition("=")
    if not node:
        return [key], None
    if not equals:
        return [key, node], None
    match = _RC.match(rc_text)
    return [key, node], int(match.group(1)) if match else None


def parse_op_spec(text: str, option: str = "-i/--op-inject") -> OpSpec | str:
    """The spec, or the message saying why it is unusable (naming `option`)."""
    strings, rc = _fields(text)
    if rc is None:
        return (f"Invalid operation spec: {text}.  Only found {len(strings)} fields "
                f"({option}: expected RESOURCE_TASK_INTERVAL@NODE=RC; ignored)")
    parsed = parse_operation_key(strings[0])
    if parsed is None:
        return (f"Invalid operation key: {strings[0]} ({option} {text}: expected "
                "RESOURCE_TASK_INTERVAL, interval in milliseconds; ignored)")
    resource, task, interval_ms = parsed
    return OpSpec(text, resource, task, interval_ms, strings[1], rc)


def failure_for(specs: tuple[str, ...], names: tuple[str, ...], task: str, interval_ms: int,
                node: str) -> tuple[str, int] | None:
    """The -F/--op-fail spec that matches an action, as (the name it used, rc).

    Pacemaker compares "<name>_<task>_<interval>@<node>=" with the start of each spec,
    ignoring case, trying the history name and then the instance name; a matching spec
    whose rc is not a number is skipped.
    """
    for spec in specs:
        for name in dict.fromkeys(names):
            prefix = f"{name}_{task}_{interval_ms}@{node}="
            if spec[: len(prefix)].lower() == prefix.lower():
                match = _RC.match(spec[len(prefix):])
                if match is not None:
                    return name, int(match.group(1))
    return None
