"""The CIB version triple (`Version`), alone in a module of its own.

It is part of the cib's client contract (messaging.cib_contract), which every CIB client
command loads; messaging.types, which re-exports it, also builds the daemons' enums, whose
creation a one-shot command such as cibadmin would pay at every start for nothing.
Invariant: tuples compare the way Pacemaker orders CIBs (admin_epoch, then epoch, then
num_updates).
"""

from __future__ import annotations

from typing import NamedTuple


class Version(NamedTuple):
    """A CIB version triple; tuples compare the way Pacemaker orders CIBs. (Here rather
    than in messaging.cib_contract so that the CIB's file-mode tools, which never talk to a
    daemon, do not load the wire protocol to name a version.)"""

    admin_epoch: int
    epoch: int
    num_updates: int

    def __str__(self) -> str:
        return f"{self.admin_epoch}.{self.epoch}.{self.num_updates}"
