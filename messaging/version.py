"""The CIB version triple (`Version`), alone in a module of its own.

It is part of the cib's client contract (messaging.cib_contract), which every CIB client
command loads; messaging.types, which re-exports it, also builds the daemons' enums, whose
creation a one-shot command such as cibadmin would pay at every start for nothing.
Invariant: tuples compare the way Pacemaker orders CIBs (admin_epoch, then epoch, then
num_updates).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (tools' start-up)
if TYPE_CHECKING:
    from typing import NamedTuple

    class _Triple(NamedTuple):
        admin_epoch: int
        epoch: int
        num_updates: int
else:  # typing.NamedTuple's class, made by collections: importing typing (and re with it)
    # was a fifth of a live cibadmin's start; the annotations are what messaging.codec reads
    from collections import namedtuple

    _Triple = namedtuple("Version", ("admin_epoch", "epoch", "num_updates"))
    _Triple.__annotations__ = {"admin_epoch": int, "epoch": int, "num_updates": int}


class Version(_Triple):
    """A CIB version triple; tuples compare the way Pacemaker orders CIBs. (Here rather
    than in messaging.cib_contract so that the CIB's file-mode tools, which never talk to a
    daemon, do not load the wire protocol to name a version.)"""

    __slots__ = ()

    def __str__(self) -> str:
        return f"{self.admin_epoch}.{self.epoch}.{self.num_updates}"
