"""Typed identifiers and the enums every daemon speaks: roles, OCF return codes, op statuses.

Values follow the Pacemaker/OCF numbers exactly, so they can be written to and read from
the CIB status section (lrm_rsc_op rc-code and op-status) without translation.
"""

from __future__ import annotations

import enum
from typing import NewType

from messaging.version import Version as Version  # re-exported: its home before

NodeName = NewType("NodeName", str)
NodeId = NewType("NodeId", str)
ResourceId = NewType("ResourceId", str)
OpKey = NewType("OpKey", str)  # Pacemaker's "<rsc>_<action>_<interval-ms>"
TransitionId = NewType("TransitionId", int)


class Role(enum.IntEnum):
    """A resource's role; ordered so that comparisons mean 'higher role'."""

    UNKNOWN = 0
    STOPPED = 1
    STARTED = 2
    UNPROMOTED = 3
    PROMOTED = 4

    @property
    def text(self) -> str:
        return _ROLE_TEXT[self]

    @classmethod
    def parse(cls, text: str | None) -> Role:
        """Parse a role word, accepting Pacemaker's old names (Master/Slave)."""
        if not text:
            return cls.UNKNOWN
        key = text.strip().lower()
        try:
            return _ROLE_WORDS[key]
        except KeyError:
            raise ValueError(f"unknown role {text!r}") from None


_ROLE_TEXT = {
    Role.UNKNOWN: "Unknown",
    Role.STOPPED: "Stopped",
    Role.STARTED: "Started",
    Role.UNPROMOTED: "Unpromoted",
    Role.PROMOTED: "Promoted",
}
_ROLE_WORDS = {
    "unknown": Role.UNKNOWN,
    "stopped": Role.STOPPED,
    "started": Role.STARTED,
    "unpromoted": Role.UNPROMOTED,
    "slave": Role.UNPROMOTED,
    "promoted": Role.PROMOTED,
    "master": Role.PROMOTED,
}


class OcfRc(enum.IntEnum):
    """OCF resource agent exit codes (OCF 1.1 plus Pacemaker's degraded codes)."""

    SUCCESS = 0
    ERR_GENERIC = 1
    ERR_ARGS = 2
    ERR_UNIMPLEMENTED = 3
    ERR_PERM = 4
    ERR_INSTALLED = 5
    ERR_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


class OpStatus(enum.IntEnum):
    """Executor operation status (lrm_rsc_op op-status)."""

    PENDING = -1
    DONE = 0
    CANCELLED = 1
    TIMEOUT = 2
    NOT_SUPPORTED = 3
    ERROR = 4
    ERROR_HARD = 5
    ERROR_FATAL = 6
    NOT_INSTALLED = 7
    NOT_CONNECTED = 8
    INVALID = 9
    NO_FENCE_DEVICE = 10
    NO_SECRETS = 11


def op_key(resource: str, action: str, interval_ms: int) -> OpKey:
    """Pacemaker's operation key, e.g. ``rsc1_monitor_10000``."""
    return OpKey(f"{resource}_{action}_{interval_ms}")
