"""Where the operator tools (crm_mon, crm_resource, crm) get the CIB and put changes back.

The tools never parse or write CIB XML themselves: `connect()` picks cib.backend's file
backend when CIB_file=PATH is set and the local cib daemon otherwise, exactly as
Pacemaker's tools choose, and `CibConnection` hands out a private copy of the CIB to edit
(`read`) and sends what changed as one version-less v2 patchset (`commit`). The backend
then bumps epoch (configuration changes) or num_updates and, in file mode, rewrites the
file atomically; in live mode the cib daemon applies the patch to the current CIB, so
status updates made meanwhile by the cluster are kept (crmsh commits the same way, with
`crm_diff --no-version` and `cibadmin --patch`).

Invariants: the tree `read` returns is the caller's to change; nothing is sent when it did
not change; connection failures are Pacemaker's: no cib daemon is "Could not connect to
the CIB: Transport endpoint is not connected" (CRM_EX_DISCONNECT, 102), a CIB_file that
cannot be read is "... No such device or address" (CRM_EX_NOSUCH, 105).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from messaging.errors import ExitCode, HAError, TransportError

if TYPE_CHECKING:
    from cib.backend import Backend
    from cib.xmlio import Element

ENV_VAR = "CIB_file"
NOT_CONNECTED = "Could not connect to the CIB: Transport endpoint is not connected"
NO_FILE = "Could not connect to the CIB: No such device or address"


class CibUnavailable(HAError):
    """The CIB cannot be reached: no cib daemon, or an unreadable CIB_file."""

    exit_code = ExitCode.DISCONNECT


class CibFileUnreadable(CibUnavailable):
    """CIB_file names a file that does not exist or is not a valid CIB."""

    exit_code = ExitCode.NOSUCH


class CibConnection:
    """One tool run's CIB: read a copy, commit the changes made to it."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._original: Element | None = None

    def read(self, private: bool = True) -> Element:
        """The whole CIB (configuration and status): a copy of the caller's own to edit, or
        (`private` False, for a tool that only reads) the backend's tree itself."""
        from cib.errors import NoSuchObject, SchemaViolation

        try:
            current = self.backend.load()
        except (NoSuchObject, SchemaViolation) as error:
            raise CibFileUnreadable(NO_FILE) from error
        self._original = current
        return copy.deepcopy(current) if private else current

    def commit(self, edited: Element) -> bool:
        """Send the changes `edited` carries over the last read; False when there were none.

        After a commit, `edited` is the base of the next one.
        """
        from cib.diff import create_patchset
        from cib.request import Op, Request

        if self._original is None:
            raise RuntimeError("commit before read")
        patch = create_patchset(self._original, edited, with_version=False)
        if patch is None:
            return False
        self.backend.commit(Request(Op.PATCH, data=patch))
        self._original = copy.deepcopy(edited)
        return True

    def close(self) -> None:
        self.backend.close()


def connect() -> CibConnection:
    """The CIB named by CIB_file, else the local cib daemon (CibUnavailable when it is not
    running)."""
    from cib.backend import backend_from_environment

    try:
        return CibConnection(backend_from_environment())
    except TransportError as error:
        raise CibUnavailable(NOT_CONNECTED) from error


def read_cib() -> Element:
    """The whole CIB once, for tools that only read it (crm_mon, crm_resource --list)."""
    connection = connect()
    try:
        return connection.read(private=False)
    finally:
        connection.close()
