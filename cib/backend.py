"""Where a CIB tool's operations run: a CIB file (CIB_file=PATH) or the local cib daemon.

A tool reads the CIB with `load()` and makes each change with `commit(request)`; it never
needs to know which backend it has. `FileBackend` performs the request on the file's tree
and writes the file atomically after every successful write (Pacemaker's file backend
does, even when nothing changed); `LiveBackend` sends the request through
`cib.api.CibClient` and raises the daemon's failure as an HAError with its exit code, and
hands status-section (transient) attribute changes to the attribute manager (`transient`).
`backend_from_environment` picks one as Pacemaker's tools do: CIB_file when set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from cib.request import Request
from cib.xmlio import Element


class Backend(Protocol):
    """One CIB a tool works on."""

    def load(self) -> Element: ...

    def commit(self, request: Request) -> None: ...

    def transient(self, name: str, value: str | None, node: str,
                  set_id: str | None = None) -> bool: ...

    def close(self) -> None: ...


class FileBackend:
    """A CIB file, read once, written after each successful change."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cib: Element | None = None

    def load(self) -> Element:
        from cib.file_mode import load

        if self._cib is None:
            self._cib = load(self.path)
        return self._cib

    def commit(self, request: Request) -> None:
        from cib.ops import perform
        from cib.store import write_atomically
        from cib.xmlio import element_text

        outcome = perform(self.load(), request)
        self._cib = outcome.cib
        write_atomically(Path(self.path).absolute(), element_text(outcome.cib).encode())

    def transient(self, name: str, value: str | None, node: str,
                  set_id: str | None = None) -> bool:
        """A file has no attribute manager: status attributes are CIB writes."""
        return False

    def close(self) -> None:
        return None


class LiveBackend:
    """The local cib daemon (sockets in `state_dir`)."""

    def __init__(self, state_dir: str) -> None:
        from cib.api import CibClient

        self.state_dir = state_dir
        self.client = CibClient(state_dir)

    def load(self) -> Element:
        from cib.request import Op
        from cib.xmlio import parse

        reply = self.client.perform(Request(Op.QUERY))
        _raise_failure(reply.exit_code, reply.message)
        return parse(reply.output or "<cib/>")

    def commit(self, request: Request) -> None:
        reply = self.client.perform(request)
        _raise_failure(reply.exit_code, reply.message)

    def transient(self, name: str, value: str | None, node: str,
                  set_id: str | None = None) -> bool:
        """Set (None: delete) a status attribute through the local attrd (in the set
        `set_id` when attrd creates it); False when attrd cannot take it, and the caller
        writes the CIB instead (Pacemaker's crm_attribute falls back the same way)."""
        from cib.attrd_api import AttrdClient
        from messaging.errors import HAError

        try:
            with AttrdClient(self.state_dir) as attrd:
                attrd.update(name, value, node, set_id=set_id)
        except HAError:
            return False
        return True

    def close(self) -> None:
        self.client.close()


def _raise_failure(exit_code: int, message: str) -> None:
    from cib.errors import NoSuchObject
    from messaging.errors import ErrorReply, ExitCode

    if exit_code == 0:
        return
    if exit_code == ExitCode.NOSUCH:
        raise NoSuchObject(message)
    raise ErrorReply("HAError", exit_code, message).to_exception()


def backend_from_environment() -> Backend:
    """CIB_file's file when set, else the local cib daemon (raises PeerUnreachable when it
    is not running)."""
    path = os.environ.get("CIB_file")  # noqa: SIM112  Pacemaker's name
    if path:
        return FileBackend(path)
    from messaging.state_dir import default_state_dir

    return LiveBackend(default_state_dir())


__all__ = ["Backend", "FileBackend", "LiveBackend", "backend_from_environment"]
