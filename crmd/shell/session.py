"""The crm shell's working state: the CIB being edited and when it is written back.

One-shot `crm configure ...` commits each command at once (crmsh does the same). In the
interactive shell, configure commands edit a working copy that `commit` writes and
`refresh` throws away; resource and node commands act on the CIB at once, as in crmsh.
The CIB is reached through crmd.cibaccess only (the cib daemon, or CIB_file's file); a
commit sends what changed since the copy was read, so in live mode status updates the
cluster made meanwhile are kept.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import click
from lxml import etree

from crmd.cibaccess import CibConnection, connect


@dataclass
class Session:
    interactive: bool = False
    working: etree._Element | None = None
    dirty: bool = False
    notes: list[str] = field(default_factory=list)
    connection: CibConnection | None = None

    def _read(self) -> etree._Element:
        if self.connection is None:
            self.connection = connect()
        return self.connection.read()

    def _write(self) -> None:
        if self.connection is not None and self.working is not None:
            self.connection.commit(self.working)

    def configuration_cib(self) -> etree._Element:
        """The tree configure commands edit (read on first use)."""
        if self.working is None:
            self.working = self._read()
        return self.working

    def configured(self) -> None:
        """A configure command changed the working copy."""
        if self.interactive:
            self.dirty = True
        else:
            self.commit()

    def commit(self) -> bool:
        """Write the working copy; False when there was nothing to write."""
        if self.working is None or (self.interactive and not self.dirty):
            return False
        self._write()
        self.dirty = False
        return True

    def refresh(self) -> None:
        self.working = None
        self.dirty = False

    def live_edit(self) -> etree._Element:
        """For resource/node commands: the CIB on disk (pending configure edits kept)."""
        if self.dirty and self.working is not None:
            return self.working
        self.working = self._read()
        return self.working

    def live_done(self) -> None:
        """A resource/node command changed the tree: commit now, unless configure edits
        are pending (then it goes out with their commit). The backend decides from the
        change itself whether epoch or num_updates moves."""
        if not self.dirty:
            self._write()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def session() -> Session:
    """The Session of the running command (one per shell, one per one-shot command)."""
    ctx = click.get_current_context()
    found = ctx.find_object(Session)
    return found if found is not None else ctx.ensure_object(Session)


def echo_notes(notes: list[str]) -> None:
    for note in notes:
        click.echo(note, err=True)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
