"""Keeping a node whole: children die with their launcher, wedged daemons are restarted.

Two failure modes leave a node half alive (issue 8, defects 1 and 7):
- the launcher dies (kill -9, OOM) and its daemons run on unsupervised. Every child gets
  `PR_SET_PDEATHSIG` = SIGTERM (`die_with_parent`, a preexec hook), so it stops cleanly
  when the launcher goes: heartbeat announces it is leaving and peers see the node dead
  at once. Restarting the node as a whole is then the init system's job (a systemd unit
  with Restart=on-failure for `hacluster node start`).
- a daemon stays alive but its event loop stops turning. The launcher reads each daemon's
  loop heartbeat (`messaging.loop_beat`) and Pings it; `messaging.wedge.WedgeDetector`
  (pure) decides when to kill it so the supervisor respawns it, discounting the time a
  loaded host kept it from running.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal

PR_SET_PDEATHSIG = 1


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library this interpreter already links, opened once: `find_library` runs
    `ldconfig -p` in a subprocess (and imports tempfile, shutil) at every call, which cost
    every daemon two process spawns between its fork and its first line."""
    return ctypes.CDLL(None, use_errno=True)


def prctl(option: int, argument: int | bytes) -> int:
    """Linux prctl(option, argument): 0 on success (libc bindings of the package live here)."""
    return int(_libc().prctl(option, argument, 0, 0, 0))


def setns(fd: int, nstype: int) -> None:
    """Linux setns(fd, nstype): join the namespace open as `fd` (OSError on failure;
    Python 3.11's os module has no binding)."""
    if _libc().setns(fd, nstype) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """Linux mount(2) (OSError naming the target on failure): the lab's node holder mounts
    its private /run and binds without running a `mount` program for each."""
    def c_string(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    if _libc().mount(c_string(source), c_string(target), c_string(fstype),
                     ctypes.c_ulong(flags), c_string(data)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def unmount(target: str, flags: int = 0) -> None:
    """Linux umount2(target, flags) (OSError naming the target on failure)."""
    if _libc().umount2(os.fsencode(target), flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"umount {target}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    """Linux unshare(flags): new namespaces for this process (its children, for a PID
    namespace); Python 3.11's os module has no binding."""
    if _libc().unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare: {os.strerror(errno)}")


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux prctl).

    Runs in the child between fork and exec. If the parent died before the request took
    effect, the child has already been re-parented: exit at once instead of running
    unsupervised.
    """
    prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent_pid:
        os._exit(1)
