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
    from lxml.etree import _Element as Element

    from cib.api import Backend

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

    def __init__(self, backend: Backend, file_mode: bool) -> None:
        self.backend = backend
        self.file_mode = file_mode
        self._original: Element | None = None

    def read(self, private: bool = True) -> Element:
        """The whole CIB (configuration and status): a copy of the caller's own to edit, or
        (`private` False, for a tool that only reads) the backend's tree itself."""
        try:
            current = self.backend.load()
        except TransportError as error:
            raise CibUnavailable(NOT_CONNECTED) from error
        except HAError as error:
            if self.file_mode:  # missing, unparsable or invalid: Pacemaker says only this
                raise CibFileUnreadable(NO_FILE) from error
            raise
        self._original = current
        return copy.deepcopy(current) if private else current

    def commit(self, edited: Element) -> bool:
        """Send the changes `edited` carries over the last read; False when there were none.

        After a commit, `edited` is the base of the next one.
        """
        from cib.api import change_request

        if self._original is None:
            raise RuntimeError("commit before read")
        request = change_request(self._original, edited)
        if request is None:
            return False
        self.backend.commit(request)
        self._original = copy.deepcopy(edited)
        return True

    def close(self) -> None:
        self.backend.close()


def connect() -> CibConnection:
    """The CIB named by CIB_file, else the local cib daemon (CibUnavailable when it is not
    running)."""
    import os

    from cib.api import tool_backend

    try:
        return CibConnection(tool_backend(), bool(os.environ.get(ENV_VAR)))
    except TransportError as error:
        raise CibUnavailable(NOT_CONNECTED) from error


def read_cib() -> Element:
    """The whole CIB once, for tools that only read it (crm_mon, crm_resource --list)."""
    connection = connect()
    try:
        return connection.read(private=False)
    finally:
        connection.close()
