"""Keeping a node whole: children die with their launcher, wedged daemons are restarted.

Two failure modes leave a node half alive (issue 8, defects 1 and 7):
- the launcher dies (kill -9, OOM) and its daemons run on unsupervised. Every child gets
  `PR_SET_PDEATHSIG` = SIGTERM (`die_with_parent`, a preexec hook), so it stops cleanly
  when the launcher goes: heartbeat announces it is leaving and peers see the node dead
  at once. Restarting the node as a whole is then the init system's job (a systemd unit
  with Restart=on-failure for `hacluster node start`).
- a daemon stays alive but its control socket answers nothing. The launcher sends each
  daemon's IPC server the built-in `Ping` every `interval`; `WedgeDetector` (pure: results
  and times in, a verdict out) decides when to kill it so the supervisor respawns it:
  `failures` probes in a row unanswered, never within `grace` after a start (the daemon
  may still be binding its socket).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
from dataclasses import dataclass, field

PR_SET_PDEATHSIG = 1


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library this interpreter already links, opened once: `find_library` runs
    `ldconfig -p` in a subprocess (and imports tempfile, shutil) at every call, which cost
    every daemon two process spawns between its fork and its first line."""
    return ctypes.CDLL(None, use_errno=True)


def prctl(option: int, argument: int | bytes) -> int:
    """Linux prctl(option, argument): 0 on success (the one libc binding of the package)."""
    return int(_libc().prctl(option, argument, 0, 0, 0))


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux prctl).

    Runs in the child between fork and exec. If the parent died before the request took
    effect, the child has already been re-parented: exit at once instead of running
    unsupervised.
    """
    prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent_pid:
        os._exit(1)


@dataclass
class WedgeDetector:
    """When an unanswered daemon should be killed (so that it is respawned)."""

    failures: int = 3
    grace: float = 10.0
    missed: dict[str, int] = field(default_factory=dict)

    def on_probe(self, name: str, answered: bool, started: float, now: float) -> bool:
        """Record one probe of `name`; True when it is wedged and must be killed."""
        if answered or now - started < self.grace:
            self.missed.pop(name, None)
            return False
        self.missed[name] = self.missed.get(name, 0) + 1
        if self.missed[name] >= self.failures:
            self.missed.pop(name, None)
            return True
        return False
