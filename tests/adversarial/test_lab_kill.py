"""kill -9 of every process of a lab node, the launcher last (`hacluster lab`, namespaces).

Each daemon of n3 killed in turn: the launcher respawns it and the three nodes agree on
one view again; only crmd's and heartbeat's deaths get the node fenced (it reboots). Then
the launcher itself: its daemons stop with it (PR_SET_PDEATHSIG, heartbeat says it is
leaving), n1 and n2 agree without n3 within deadtime + 1 keepalive (+ a scheduling
margin), and no process of n3 is left. Uses the lab name `hcharden` (its "hc" replaced by
$HACLUSTER_TEST_LAB_PREFIX, as every lab test's).

The pids in a lab node's launcher.json are pids of the node's PID namespace: signals go
through `hacluster lab exec NODE kill`, never os.kill from the host (host pid 1 is not
the node's pid 1).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.adversarial.conftest import Tally

# The lab tests import their helpers as top-level modules (pytest puts tests/lab on the
# path when it collects them); do the same to share their Lab driver.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
_membership_lab = importlib.import_module("test_membership_lab")
Lab, cli = _membership_lab.Lab, _membership_lab.cli
lab_name = importlib.import_module("lab_names").lab_name

pytestmark = [
    pytest.mark.adversarial, pytest.mark.lab, pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the namespace lab needs root"),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("ip", "nft", "unshare", "nsenter")),
        reason="needs iproute2, nftables and util-linux (unshare, nsenter)"),
]
NAME = lab_name("hcharden")
# Killing these gets the node fenced and rebooted, as in Pacemaker: a controller that left
# the process group, a node whose membership layer died. Every other daemon is respawned
# with no fencing (issue 10: "recovery of crmd or lrmd ... no needless restarts" for lrmd).
FENCED_WHEN_KILLED = frozenset({"crmd", "heartbeat"})
HACLUSTER = str(Path(sys.executable).parent / "hacluster")


def _in_node(node: str, *argv: str, lab: str = NAME) -> int:
    """Run a command inside the lab node (its PID namespace); its exit code."""
    return subprocess.call([HACLUSTER, "lab", "--name", lab, "exec", node, *argv],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_in_node(node: str, pid: int, lab: str = NAME) -> None:
    assert _in_node(node, "kill", "-9", str(pid), lab=lab) == 0, f"no process {pid} in {node}"


def _alive_in_node(node: str, pid: int, lab: str = NAME) -> bool:
    return _in_node(node, "sh", "-c", f"[ -e /proc/{pid} ] && "
                    f"! grep -q '^State:.*Z' /proc/{pid}/status", lab=lab) == 0


def _another(now: int | None, pid: int, started: str | None) -> bool:
    """The daemon runs as another process than `pid` started at `started`."""
    if now is None:
        return False
    return now != pid or _started("n3", now) not in (None, started)


def _started(node: str, pid: int) -> str | None:
    """When process `pid` of the node started (/proc/PID/stat's starttime), None when no
    such live process: the node leaving the view gets it fenced and rebooted, and the new
    boot's daemons may get the same pids, so a pid alone does not tell an orphan."""
    done = subprocess.run([HACLUSTER, "lab", "--name", NAME, "exec", node, "cat",
                           f"/proc/{pid}/stat"], capture_output=True, text=True, check=False)
    fields = done.stdout.rpartition(")")[2].split()
    if done.returncode != 0 or len(fields) < 20 or fields[0] == "Z":
        return None
    return fields[19]


def _daemons(state_dir: Path) -> dict[str, int]:
    status = json.loads((state_dir / "launcher.json").read_text())
    return {d["name"]: d["pid"] for d in status["daemons"] if d["pid"]}


def _launcher_pid(state_dir: Path) -> int:
    return int((state_dir / "launcher.pid").read_text())


def _wait(condition: object, deadline: float = 60.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if condition():  # type: ignore[operator]
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    return False


def _fenced_by_crmd(observer_state: Path, target: str) -> int:
    """Completed fencings of `target` the controllers asked for (the observer's history)."""
    from stonithd.api import HistoryReply, HistoryRequest, OpState, StonithClient, endpoint_in

    with StonithClient(endpoint_in(observer_state)) as client:
        reply = client.call(HistoryRequest(target), 5.0)
    assert isinstance(reply, HistoryReply)
    return sum(1 for e in reply.entries
               if e.target == target and e.state == OpState.DONE and e.client == "crmd")


def _booted_afresh(state_dir: Path) -> bool:
    """The node's launcher runs every daemon of a new boot (no respawn counted yet)."""
    status = json.loads((state_dir / "launcher.json").read_text())
    return all(d["state"] == "running" and d["restarts"] == 0 for d in status["daemons"])


def test_kill_9_every_process_of_a_lab_node(tally: Tally) -> None:
    outcome = tally["lab kill -9: every process of n3"]
    try:  # a lab whose `up` failed is taken down too
        lab = Lab(NAME, "--nodes", "3")
        lab.wait([["n1", "n2", "n3"]], 30)
        state = lab.state_dir("n3")
        for daemon in sorted(_daemons(state)):
            outcome.tried += 1
            # read now: killing crmd gets the node fenced and rebooted (Pacemaker fences a
            # node whose controller left the process group), so earlier pids are gone; the
            # node's launcher.json names the old pids until it booted again
            assert _wait(lambda daemon=daemon: _alive_in_node(
                "n3", _daemons(state)[daemon]), 120), f"{daemon} never came back"
            pid = _daemons(state)[daemon]
            started = _started("n3", pid)
            fenced = _fenced_by_crmd(lab.state_dir("n1"), "n3")
            _kill_in_node("n3", pid)
            # another process: another pid, or the same pid in the node's next boot (a fenced
            # node's fresh PID namespace numbers its daemons alike), told by its start time
            respawned = _wait(lambda daemon=daemon, pid=pid, started=started: _another(
                _daemons(state).get(daemon), pid, started))
            if daemon in FENCED_WHEN_KILLED:  # however late the fencing: wait for the boot
                assert _wait(lambda before=fenced: _fenced_by_crmd(lab.state_dir("n1"), "n3")
                             > before, 120), f"n3 not fenced after its {daemon} died"
                assert _wait(lambda: _booted_afresh(state), 120), "n3 did not boot again"
            lab.wait([["n1", "n2", "n3"]], 60)
            if daemon not in FENCED_WHEN_KILLED and \
                    _fenced_by_crmd(lab.state_dir("n1"), "n3") > fenced:
                outcome.bad("crashes", f"n3 fenced after its {daemon} was respawned")
                continue
            if respawned:
                outcome.rejected += 1
            else:
                outcome.bad("crashes", f"{daemon} not respawned")
        outcome.tried += 1
        children = {pid: _started("n3", pid) for pid in _daemons(state).values()}
        _kill_in_node("n3", _launcher_pid(state))
        took = lab.wait([["n1", "n2"]], 30)
        orphans = not _wait(lambda: not any(_started("n3", pid) == started
                                            for pid, started in children.items()),
                            30)
        # no time bound here (a loaded host): detection at deadtime is exact on the
        # simulator's clock (tests/unit/lab/test_sim_timing.py); here: it happens, no orphans
        if orphans:
            outcome.bad("crashes", f"n3 left the view after {took:.2f}s with orphans left")
        else:
            outcome.rejected += 1
        cli(NAME, "kill", "n3")  # what is left of the node (its namespace holder) goes too
        cli(NAME, "start", "n3")  # and it boots again as a whole
        lab.wait([["n1", "n2", "n3"]], 30)
    finally:
        cli(NAME, "down")
    assert outcome.crashes == 0, outcome.examples


def test_heartbeat_killed_without_fencing_the_node_leaves_until_started_again(
        tally: Tally) -> None:
    """No fencing (`--no-crm`: heartbeat and ccm only): the node whose heartbeat died
    leaves the view and stays out, its launcher gone with every daemon, as a Pacemaker
    node whose corosync died (pacemakerd shuts down; nothing reboots it); `lab start`
    starts its stack again, as `systemctl start` would on that machine."""
    outcome = tally["lab kill -9: heartbeat, no fencing"]
    name = lab_name("hcnofen")
    try:
        lab = Lab(name, "--nodes", "2", "--no-crm")
        lab.wait([["n1", "n2"]], 30)
        state = lab.state_dir("n2")
        launcher = _launcher_pid(state)
        outcome.tried += 1
        _kill_in_node("n2", _daemons(state)["heartbeat"], lab=name)
        lab.wait([["n1"]], 60)
        gone = _wait(lambda: not _alive_in_node("n2", launcher, lab=name), 30)
        cli(name, "start", "n2")
        lab.wait([["n1", "n2"]], 60)
        if gone:
            outcome.rejected += 1
        else:
            outcome.bad("crashes", "n2's launcher outlived its heartbeat")
    finally:
        cli(name, "down")
    assert outcome.crashes == 0, outcome.examples

