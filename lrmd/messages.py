"""The lrmd's message dataclasses: what clients send, what the daemon answers and publishes.

Plain frozen slotted dataclasses with no I/O, shared by the pure core (`lrmd.ops`), the wire
codec and client (`lrmd.api`, the only module other packages import) and the service.
`OpCompleted` is both the published event and the per-resource history record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messaging.errors import UsageError
from messaging.types import OcfRc, OpStatus

DEFAULT_TIMEOUT_MS = 20_000  # Pacemaker's built-in op timeout
_OK_RCS = frozenset(
    {OcfRc.SUCCESS, OcfRc.RUNNING_PROMOTED, OcfRc.DEGRADED, OcfRc.DEGRADED_PROMOTED}
)
_FAILED_STATUSES = frozenset(
    {
        OpStatus.TIMEOUT,
        OpStatus.ERROR,
        OpStatus.NOT_SUPPORTED,
        OpStatus.NOT_CONNECTED,
        OpStatus.NO_FENCE_DEVICE,
        OpStatus.NO_SECRETS,
        OpStatus.INVALID,
        OpStatus.ERROR_HARD,
        OpStatus.ERROR_FATAL,
        OpStatus.NOT_INSTALLED,
    }
)


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """A resource agent named Pacemaker's way: ``class:provider:type`` or ``class:type``."""

    standard: str
    type: str
    provider: str = ""

    @classmethod
    def parse(cls, text: str) -> AgentSpec:
        """Parse ``ocf:heartbeat:Dummy``, ``lsb:cron`` or ``stonith:fence_dummy``.

        Raises:
            UsageError: the text is not one of those shapes.
        """
        parts = text.split(":")
        if len(parts) == 3 and parts[0] == "ocf" and all(parts):
            return cls(standard="ocf", provider=parts[1], type=parts[2])
        if len(parts) == 2 and parts[0] in ("lsb", "service", "stonith") and parts[1]:
            return cls(standard=parts[0], type=parts[1])
        raise UsageError(f"agent {text!r}: expected ocf:PROVIDER:TYPE, lsb:SCRIPT, "
                         "service:NAME or stonith:AGENT")

    def __str__(self) -> str:
        if self.provider:
            return f"{self.standard}:{self.provider}:{self.type}"
        return f"{self.standard}:{self.type}"


@dataclass(frozen=True, slots=True)
class OpCompleted:
    """One result of an operation (a recurring monitor yields many); also a history record.

    Times: `last_run` and `last_rc_change` are wall-clock epoch seconds, `exec_time_ms` and
    `queue_time_ms` are durations in milliseconds.
    """

    call_id: int
    resource: str
    agent: AgentSpec
    action: str
    interval_ms: int
    rc: int
    status: int
    exit_reason: str = ""
    output: str = ""
    exec_time_ms: int = 0
    queue_time_ms: int = 0
    last_run: float = 0.0
    last_rc_change: float = 0.0
    op_digest: str = ""
    params: dict[str, str] = field(default_factory=dict)
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    target_rc: int | None = None

    @property
    def op_key(self) -> str:
        return f"{self.resource}_{self.action}_{self.interval_ms}"

    @property
    def failed(self) -> bool:
        """Pacemaker's did-this-op-fail rule, with `target_rc` when the caller gave one."""
        if self.status == OpStatus.CANCELLED or self.status == OpStatus.PENDING:
            return False
        if self.status in _FAILED_STATUSES:
            return True
        if self.target_rc is not None:
            return self.rc != self.target_rc
        if self.action == "monitor" and self.interval_ms == 0:
            return self.rc not in _OK_RCS and self.rc != OcfRc.NOT_RUNNING
        return self.rc not in _OK_RCS

    def describe(self) -> str:
        """One line for people: ``rsc_start_0: rc=0 (SUCCESS) status=DONE 12 ms``."""
        rc_name = OcfRc(self.rc).name if self.rc in OcfRc._value2member_map_ else "custom"
        line = (
            f"{self.op_key}: rc={self.rc} ({rc_name}) status={OpStatus(self.status).name}"
            f" {self.exec_time_ms} ms"
        )
        return f"{line}: {self.exit_reason}" if self.exit_reason else line


@dataclass(frozen=True, slots=True)
class ExecRequest:
    """Run `action` of `agent` for resource `resource`.

    `params` are instance attributes (exported as ``OCF_RESKEY_<name>``; ``OCF_CHECK_LEVEL``
    is exported bare); `meta` are meta attributes such as ``clone_max`` or ``notify_type``
    (exported as ``OCF_RESKEY_CRM_meta_<name>``, ``-`` -> ``_``). `interval_ms` > 0 makes a
    monitor recurring; `target_rc` (if known) decides what counts as a failure.
    """

    resource: str
    agent: AgentSpec
    action: str
    params: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    interval_ms: int = 0
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    target_rc: int | None = None
    reply: bool = True


@dataclass(frozen=True, slots=True)
class ExecAccepted:
    """The request was queued under `call_id`."""

    call_id: int


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """Cancel the operation (`resource`, `action`, `interval_ms`), queued, waiting or running."""

    resource: str
    action: str
    interval_ms: int


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """Ask for the operation history, of one resource or of all."""

    resource: str = ""


@dataclass(frozen=True, slots=True)
class HistoryReply:
    records: tuple[OpCompleted, ...]


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    agent: AgentSpec


@dataclass(frozen=True, slots=True)
class MetadataReply:
    xml: str


@dataclass(frozen=True, slots=True)
class ListRequest:
    """List classes, providers and agents the lrmd can run."""


@dataclass(frozen=True, slots=True)
class ListReply:
    agents: tuple[AgentSpec, ...]


@dataclass(frozen=True, slots=True)
class Ack:
    ok: bool = True
