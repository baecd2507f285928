"""The CIB's failures as members of the one HAError tree, each with Pacemaker's exit code.

cibadmin prints `Call failed: <reason>` with the same reason text Pacemaker prints (its
strerror-style text for the code), followed by our detail; `reason` holds that text.
"""

from __future__ import annotations

from messaging.errors import (
    ConflictError,
    ExitCode,
    HAError,
    InternalError,
    NotFoundError,
    UsageError,
    ValidationError,
)


class ObjectExists(ConflictError):
    """-C of an object whose tag and id are already a child of the section (EEXIST)."""

    exit_code = ExitCode.EXISTS
    reason = "File exists"


class NoSuchObject(NotFoundError):
    """The object, section or xpath named does not exist (ENXIO)."""

    reason = "No such device or address"


class OldUpdate(ConflictError):
    """A replace or patch older than the CIB, or a version going backwards."""

    exit_code = ExitCode.OLD
    reason = "Update was older than existing configuration"


class PatchOld(OldUpdate):
    """A patchset whose source version is below the CIB's or that raises no version field."""


class PatchGap(HAError):
    """A patchset whose source version is above the CIB's: a replica missed updates."""

    exit_code = ExitCode.ERROR
    reason = "Application of update diff failed, requesting full refresh"


class PatchFailed(HAError):
    """A patchset naming nodes the CIB lacks, or whose result has the wrong digest."""

    exit_code = ExitCode.ERROR
    reason = "Application of update diff failed"


class SchemaViolation(ValidationError):
    """The result does not validate against the CIB's validate-with schema."""

    reason = "Update does not conform to the configured schema"


class InvalidArgument(InternalError):
    """A request Pacemaker refuses with EINVAL (for example -C into a missing section)."""

    reason = "Invalid argument"


class Unsafe(UsageError):
    """A dangerous command (-E, -u, -d) without --force."""

    exit_code = ExitCode.UNSAFE
    reason = ("The supplied command is considered dangerous.  To prevent accidental "
              "destruction of the cluster, the --force flag is required in order to proceed.")


def reason_of(error: HAError) -> str:
    """Pacemaker's short text for an error, or our own message for errors it lacks."""
    return str(getattr(error, "reason", error.message))
