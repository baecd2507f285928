"""PID 1 of one lab node: private hostname and mounts, then reap every orphan until killed.

Forked by the lab's node forker (lab.nodefork: `enter_new_node`, `mount_proc`, then
`main`), or run as ``python -m lab.holder NODE DIR`` by `lab.netns` inside ``unshare --pid
--fork --mount-proc --uts --mount`` in the node's network namespace without one. It
sets the hostname to NODE (so `uname -n` is the node name), mounts fresh tmpfs on /run
(with an empty /run/resource-agents, as tmpfiles.d makes at boot) and /dev/shm, bind-mounts
DIR/etc over /etc/ha.d and DIR/state over /var/lib/hacluster (so a node's tools find their
files at the default paths, and its ipc sockets never collide with another node's), binds
the lab's PDU directory (DIR/../pdu) on /run/hacluster-pdu, writes DIR/ready and then only
reaps children. Killing this process with SIGKILL kills everything in the node at once:
the kernel's rule for a PID namespace's init. The mounts are mount(2) calls, the same
ones util-linux's `mount` makes: six `mount` programs per node, 96 short-lived processes
in a 16-node cold start, competed for the host's cores while the other nodes booted.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from messaging.watchdog import mount, setns, unmount, unshare

MOUNTS = (("etc", "/etc/ha.d"), ("state", "/var/lib/hacluster"))
PDU_MOUNT = "/run/hacluster-pdu"  # lab.layout.NODE_PDU_DIR
RSCTMP = "/run/resource-agents"  # HA_RSCTMP of the OCF agents
# <sys/mount.h>
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
MNT_DETACH = 0x2
# <sched.h>
CLONE_NEWNS, CLONE_NEWUTS = 0x00020000, 0x04000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000


def _tmpfs(target: str, options: str) -> None:
    mount("tmpfs", target, "tmpfs", 0, options)


def _bind(source: Path, target: str) -> None:
    mount(str(source), target, None, MS_BIND)


def prepare(node: str, directory: Path) -> None:
    """Hostname and mounts of the node (all inside its own UTS and mount namespaces)."""
    socket.sethostname(node)
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # mount --make-rprivate /
    _tmpfs("/run", "mode=0755,size=64m")
    _tmpfs("/dev/shm", "mode=1777,size=64m")
    # what systemd-tmpfiles creates at boot from resource-agents' tmpfiles.d: agents keep
    # their state there (Debian's Dummy cannot start without it)
    Path(RSCTMP).mkdir(mode=0o755, parents=True, exist_ok=True)
    for sub, target in MOUNTS:
        Path(target).mkdir(parents=True, exist_ok=True)
        _bind(directory / sub, target)
    pdu = directory.parent / "pdu"  # the lab's power switch (lab.pdu), when there is one
    if pdu.is_dir():
        Path(PDU_MOUNT).mkdir(parents=True, exist_ok=True)
        _bind(pdu, PDU_MOUNT)


def enter_new_node(netns_fd: int, netns_name: str) -> None:
    """In a single-threaded process about to fork the holder: what ``ip netns exec NS
    unshare --pid --fork --uts --mount --propagation private`` gives it, done with system
    calls (lab.nodefork): the node's network namespace with its own /sys (as `ip netns
    exec` remounts it), new UTS and mount namespaces with private propagation, and a new
    PID namespace whose init is this process's next child."""
    setns(netns_fd, CLONE_NEWNET)
    unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    unmount("/sys", MNT_DETACH)
    mount(netns_name, "/sys", "sysfs")


def mount_proc() -> None:
    """As PID 1 of the new PID namespace: a /proc of that namespace (`unshare
    --mount-proc`), so the node's tools see only its own processes."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def reap_forever() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            time.sleep(1.0)
        except InterruptedError:
            continue


def main(argv: list[str]) -> int:
    node, directory = argv[0], Path(argv[1])
    prepare(node, directory)
    (directory / "ready").write_text(f"{os.getpid()}\n")
    reap_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
