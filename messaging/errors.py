"""One exception tree for hacluster and the one exit-code table shared by every tool.

Expected outcomes (an OCF rc, a failed operation, an unclean node) are values, never
exceptions. Exceptions are for input we cannot use, peers that misbehave and bugs.
Every tool maps an exception to an exit code through `exit_code_for` only, so a given
kind of failure exits the same way everywhere. The numbers are Pacemaker's CRM_EX_*.
"""

from __future__ import annotations

import enum

from messaging.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: every tool imports this
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


if TYPE_CHECKING:
    from enum import IntEnum as _ExitCodeBase

    def _simple_int_enum(cls: type[_ExitCodeBase]) -> type[_ExitCodeBase]:
        return cls
else:
    # Every tool builds this table at start: the stdlib's own fast constructor (what 3.11
    # uses for http.HTTPStatus) makes the same IntEnum for about a third less CPU than
    # EnumType's checks (tests/unit/messaging/test_errors.py proves them equal).
    _ExitCodeBase = object
    _simple_int_enum = enum._simple_enum(enum.IntEnum)


@_simple_int_enum
class ExitCode(_ExitCodeBase):
    """Pacemaker's CRM_EX_* exit codes (crm_error --exit --list)."""

    OK = 0
    ERROR = 1
    INVALID_PARAM = 2
    UNIMPLEMENT_FEATURE = 3
    INSUFFICIENT_PRIV = 4
    NOT_INSTALLED = 5
    NOT_CONFIGURED = 6
    NOT_RUNNING = 7
    PROMOTED = 8
    FAILED_PROMOTED = 9
    USAGE = 64
    DATAERR = 65
    NOINPUT = 66
    NOUSER = 67
    NOHOST = 68
    UNAVAILABLE = 69
    SOFTWARE = 70
    OSERR = 71
    OSFILE = 72
    CANTCREAT = 73
    IOERR = 74
    TEMPFAIL = 75
    PROTOCOL = 76
    NOPERM = 77
    CONFIG = 78
    FATAL = 100
    PANIC = 101
    DISCONNECT = 102
    OLD = 103
    DIGEST = 104
    NOSUCH = 105
    QUORUM = 106
    UNSAFE = 107
    EXISTS = 108
    MULTIPLE = 109
    EXPIRED = 110
    NOT_YET_IN_EFFECT = 111
    INDETERMINATE = 112
    UNSATISFIED = 113
    TIMEOUT = 124
    DEGRADED = 190
    DEGRADED_PROMOTED = 191
    NONE = 193


class Severity(enum.Enum):
    """How much a validation report matters."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Location(Record):
    """Where in an input a problem is: a file (or '<stdin>'), a line, an element or key."""

    __slots__ = ("element", "line", "source")

    def __init__(self, source: str = "", line: int | None = None, element: str = "") -> None:
        self.source, self.line, self.element = source, line, element

    def __str__(self) -> str:
        parts = [self.source or "<input>"]
        if self.line is not None:
            parts[0] += f":{self.line}"
        if self.element:
            parts.append(self.element)
        return ": ".join(parts)


class Report(Record):
    """One structured finding of a validator (pcs style): a code, a severity and a message
    (`location` defaults to an empty Location, as the dataclass's default_factory did)."""

    __slots__ = ("code", "location", "message", "severity")

    def __init__(self, code: str, message: str, severity: Severity = Severity.ERROR,
                 location: Location | None = None) -> None:
        self.code, self.message, self.severity = code, message, severity
        self.location = Location() if location is None else location

    def __str__(self) -> str:
        return f"{self.location}: {self.severity.value}: {self.message} [{self.code}]"


class HAError(Exception):
    """Root of every error hacluster raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is not None:
            return f"{self.location}: {self.message}"
        return self.message


class ConfigError(HAError):
    """A configuration file or cluster option cannot be used (ha.cf, authkeys, CIB options)."""

    exit_code = ExitCode.CONFIG


class UsageError(HAError):
    """Command-line arguments that do not make sense together."""

    exit_code = ExitCode.USAGE


class ValidationError(HAError):
    """Input that failed validation; carries every report so none is lost."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, reports: tuple[Report, ...] = (), **kw: object) -> None:
        location = kw.get("location")
        super().__init__(message, location=location if isinstance(location, Location) else None)
        self.reports = reports


class NotFoundError(HAError):
    """A named object (resource, node, file, agent) does not exist."""

    exit_code = ExitCode.NOSUCH


class ConflictError(HAError):
    """An update built on a stale version (CIB epoch) or that would duplicate an object."""

    exit_code = ExitCode.OLD


class ProtocolError(HAError):
    """A message broke the protocol."""

    exit_code = ExitCode.PROTOCOL


class LocalProtocolError(ProtocolError):
    """We were about to send something the protocol does not allow: a bug on our side."""


class RemoteProtocolError(ProtocolError):
    """A peer sent something malformed, unsigned, unknown or out of sequence."""


class TransportError(HAError):
    """A socket, pipe or link failed."""

    exit_code = ExitCode.DISCONNECT


class PeerTimeout(TransportError):
    """A peer did not answer in time."""

    exit_code = ExitCode.TIMEOUT


class PeerUnreachable(TransportError):
    """A peer (daemon or node) cannot be reached at all."""


class AgentExecError(HAError):
    """A resource or fence agent could not be run (missing, not executable)."""

    exit_code = ExitCode.NOT_INSTALLED


class FencingError(HAError):
    """A fencing request could not be carried out."""

    exit_code = ExitCode.ERROR


class InternalError(HAError):
    """A broken invariant inside hacluster: always a bug."""

    exit_code = ExitCode.SOFTWARE


def exit_code_for(error: BaseException) -> ExitCode:
    """The one mapping from an exception to a process exit code."""
    if isinstance(error, HAError):
        return error.exit_code
    if isinstance(error, PermissionError):
        return ExitCode.INSUFFICIENT_PRIV
    if isinstance(error, FileNotFoundError):
        return ExitCode.NOINPUT
    if isinstance(error, OSError):
        return ExitCode.OSERR
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.ERROR
    return ExitCode.SOFTWARE


_REMOTE_ERRORS: dict[str, type[HAError]] = {cls.__name__: cls for cls in (
    HAError, ConfigError, UsageError, ValidationError, NotFoundError, ConflictError,
    ProtocolError, LocalProtocolError, RemoteProtocolError, TransportError, PeerTimeout,
    PeerUnreachable, AgentExecError, FencingError, InternalError)}


def _report_fields(report: Report) -> tuple[str, str, str, str, int | None, str]:
    where = report.location
    return (report.code, report.message, report.severity.value, where.source, where.line,
            where.element)


def _report_of(row: Sequence[Any]) -> Report:
    """A report back from its wire row; an unknown severity (a newer peer's) is an error."""
    code, message, severity, source, line, element = (list(row) + [""] * 6)[:6]
    known = Severity._value2member_map_.get(str(severity), Severity.ERROR)
    return Report(str(code), str(message), Severity(known),
                  Location(str(source), line if isinstance(line, int) else None, str(element)))


# Names travel, not classes: a peer running another version may send a name we lack; it
# becomes a plain HAError that keeps the peer's exit code.


class ErrorReply(Record):
    """The one error answer of every IPC server: an `HAError` class name, its exit code,
    its message and, for a `ValidationError`, every report (as `_report_fields` rows, so a
    peer of another version can read them). `of(error)` and `to_exception()` are the only
    mapping, both directions."""

    __slots__ = ("error", "exit_code", "message", "reports")

    def __init__(self, error: str, exit_code: int, message: str,
                 reports: tuple[tuple[str, str, str, str, int | None, str], ...] = ()) -> None:
        self.error, self.exit_code, self.message, self.reports = error, exit_code, message, reports

    @classmethod
    def of(cls, error: BaseException, exit_code: ExitCode | None = None) -> ErrorReply:
        """The reply for `error` (with `exit_code` instead of its class's, when a tool must
        exit with a more precise code); anything outside the HAError tree is an
        InternalError."""
        if isinstance(error, HAError):
            name = next(c.__name__ for c in type(error).__mro__ if c.__name__ in _REMOTE_ERRORS)
            reports = tuple(_report_fields(r) for r in getattr(error, "reports", ()))
            return cls(name, int(exit_code or error.exit_code), error.message, reports)
        return cls("InternalError", int(ExitCode.SOFTWARE),
                   f"internal error: {type(error).__name__}: {error}")

    def to_exception(self) -> HAError:
        """The exception a client raises for this reply (same class, same exit code)."""
        error = _REMOTE_ERRORS.get(self.error, HAError)(self.message)
        if isinstance(error, ValidationError):
            error.reports = tuple(_report_of(row) for row in self.reports)
        if self.exit_code in ExitCode._value2member_map_:
            error.exit_code = ExitCode(self.exit_code)
        return error
