"""Cold start: every node of a configured cluster boots at once, until the DC is idle and
every resource runs.

    python bench/cold_start.py [--nodes 3,16] [--pacemaker] [--one-by-one] [--trials N]

Both sides are first brought up and given an ocf:pacemaker:Dummy (the configuration is
then on disk), every node is killed (ours: all stopped at once, then kill -9 of each whole
node, so no survivor fences the others before the cold start), and the clock runs from
the first node's boot to the first `crm_mon -1` showing a DC, every node online and no
resource stopped, starting, stopping or failed (polled every 100 ms; Pacemaker's nodes
boot one after the other as its lab tool allows). Ours is asked through the daemons'
sockets (our_probe: the controllers say the DC is idle with every node joined, the lrmds
that the Dummy runs on one node), polled every 50 ms. One `lab start` powers every node on
before booting any (power returning to a whole rack; 16 concurrent `lab start` commands
spent 5-10 s on their own interpreter starts on 2 cores before the last node had power),
or each node's `lab start` runs one after the other with --one-by-one (the clock starts
before the first one);
--trials repeats the kill and cold start in the same lab, each row with the load beside it.
--trace DIR copies every node's log directory there after each trial (DIR/trialN/NODE),
with the wall time of the first boot, for the timeline of where the seconds went; with
--cpu each trial also prints the CPU seconds every daemon kind used from its boot until
settled, summed over the nodes (a cold start of 16 nodes on 2 cores is bound by CPU), and
heartbeat's traffic (messages sent and delivered, datagrams in and out) and
retransmission counters (requests, resends) summed over the nodes; --profile
DIR runs every daemon under cProfile (slower: for where the CPU goes, not for timings) and
writes DIR/NODE-DAEMON.prof once each trial settled.
Pacemaker's first `up` (namespaces, configuration and fencing device included) is printed
beside it. Our side needs cib and crmd; it prints a skip line until they exist.
Issue 10's goal: at most 3 s at 3 nodes, 6 s at 16 (Pacemaker: about 24 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import time
from pathlib import Path

import pcmk
from benchlib import (
    OurLab,
    cpu_seconds,
    load_average,
    missing_daemons,
    our_cibadmin,
    process_name,
    ratio,
    table,
)
from crm_probe import DUMMY, wait_stable
from our_probe import OurCluster, wait_until

from messaging.zygote import PROFILE_ENV

GOALS = {3: 3.0, 16: 6.0}


# heartbeat's counters of the upper layers' messages and of all datagrams (load-independent)
TRAFFIC = ("messages.sent", "messages.delivered", "rx.packets", "tx.packets", "udp.tx")
Trial = tuple[float, float, str]  # from the first boot, from the last boot returning, load


def ours(nodes: int, lab_name: str, together: bool = False, trials: int = 1,
         trace: str = "", cpu: bool = False) -> list[Trial] | None:
    """One row per trial: seconds from the first node's boot and from the last node's boot
    command returning until settled, with the load average then."""
    gone = missing_daemons("cib", "crmd")
    if gone:
        print(f"SKIP ours at {nodes} nodes: no {', '.join(gone)} daemon in this checkout yet")
        return None
    lab = OurLab(lab_name)
    cluster = OurCluster(lab.name)
    try:
        lab.up(nodes, "--config", "empty", wait=300)
        names = sorted(lab.status()["nodes"])
        our_cibadmin(cluster.state_dir(names[0]), "-C", "-o", "resources", "-X", DUMMY)
        if not wait_until(lambda: cluster.settled(names, "dummy"), 300):
            raise RuntimeError("not stable after configuration")
        measured: list[Trial] = []
        for trial in range(trials):
            took = _cold_start(lab, cluster, names, together,
                               f"{trace}/trial{trial + 1}" if trace else "")
            if cpu:
                print(_cpu_table(lab, names))
                print(_retransmissions(cluster, names))
            if os.environ.get(PROFILE_ENV):
                _dump_profiles(lab, names)
            if took is None:
                return measured or None
            measured.append((*took, load_average()))
        return measured
    finally:
        lab.down()


def _cold_start(lab: OurLab, cluster: OurCluster, names: list[str],
                together: bool, trace: str = "") -> tuple[float, float] | None:
    cluster.power_cut(names)
    started, started_wall = time.monotonic(), time.time()
    if together:
        lab.lab("start", *names)
    else:
        for name in names:
            lab.lab("start", name)
    booted = time.monotonic()
    settled = wait_until(lambda: cluster.settled(names, "dummy"), 120, poll=0.05)
    took = time.monotonic() - started, time.monotonic() - booted
    if trace:
        time.sleep(0.5)  # let the nodes finish writing what they logged
        for node in names:
            shutil.copytree(cluster.state_dir(node).parent / "log", f"{trace}/{node}",
                            dirs_exist_ok=True)
        print(f"  first boot at wall {started_wall:.3f}, took {took[0]:.2f} s, "
              f"logs in {trace}")
    return took if settled else None


def _dump_profiles(lab: OurLab, names: list[str]) -> None:
    """Ask every daemon run under cProfile (--profile: it catches SIGUSR2, nothing else
    of ours does) to write its stats now."""
    catching = 1 << (signal.SIGUSR2 - 1)
    for node in names:
        for pid in lab.node_pids(node):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            caught = int(status.split("SigCgt:")[1].split()[0], 16)
            if caught & catching:
                os.kill(pid, signal.SIGUSR2)
    time.sleep(1.0)  # each writes its stats from its own loop
    print(f"  profiles in {os.environ[PROFILE_ENV]} (NODE-DAEMON.prof)")


def _retransmissions(cluster: OurCluster, names: list[str]) -> str:
    """Heartbeat's traffic and retransmission counters summed over the nodes (since each
    booted)."""
    from messaging.errors import HAError
    from messaging.heartbeat.api import HeartbeatClient

    summed: dict[str, int] = {}
    for node in names:
        client = HeartbeatClient(cluster.state_dir(node))
        try:
            counters = client.query_counters().counters
        except HAError as error:
            return f"retransmissions: {node} did not answer ({error})"
        finally:
            client.close()
        for key, value in counters.items():
            if key.startswith("rexmit.") or key in TRAFFIC or key == "messages.lost":
                summed[key] = summed.get(key, 0) + value
    traffic = ", ".join(f"{key} {summed.pop(key, 0)}" for key in TRAFFIC)
    return f"traffic, all nodes: {traffic}\nretransmissions, all nodes: " + (", ".join(
        f"{key} {value}" for key, value in sorted(summed.items())) or "none")


def _cpu_table(lab: OurLab, names: list[str]) -> str:
    """CPU seconds per daemon kind, summed over the nodes, since each node booted."""
    used: dict[str, float] = {}
    for node in names:
        for pid in lab.node_pids(node):
            name = process_name(pid)
            used[name] = used.get(name, 0.0) + cpu_seconds(pid)
    rows = [[name, f"{seconds:.1f}"] for name, seconds in
            sorted(used.items(), key=lambda item: -item[1]) if seconds >= 0.05]
    rows.append(["total", f"{sum(used.values()):.1f}"])
    return "CPU seconds until settled, all nodes\n" + table(["process", "CPU s"], rows)


def pacemaker() -> tuple[float, float | None]:
    """(seconds of the first `up`, seconds of a cold restart of all three nodes)."""
    with pcmk.session() as (lab, first_up):
        for node in pcmk.NODES:
            lab.run("kill", node)
        started = time.monotonic()
        for node in pcmk.NODES:
            lab.run("start", node)
        took = wait_stable(lambda n, s: lab.exec(n, s), pcmk.NODES[0], None, 3, timeout=300)
        return first_up, None if took is None else time.monotonic() - started


def main() -> None:
    args = _parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        os.environ[PROFILE_ENV] = str(Path(args.profile).resolve())
    rows, theirs = _pacemaker_rows() if args.pacemaker else ([], None)
    rows += _our_rows(args, theirs)
    print("\nCold start until the DC is idle and every resource runs (s)")
    print(table(["cluster", "seconds", "vs Pacemaker", "goal", "load"], rows))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="3,16")
    parser.add_argument("--lab", default="hcbcold",
                        help="name prefix of our labs (each is PREFIX<nodes>)")
    parser.add_argument("--name", help="exact name of our lab (one --nodes count only)")
    parser.add_argument("--pacemaker", action="store_true")
    parser.add_argument("--one-by-one", dest="together", action="store_false",
                        help="run the nodes' `lab start` one after the other, not at once")
    parser.add_argument("--together", action="store_true", default=True,
                        help=argparse.SUPPRESS)  # the default now; kept for old commands
    parser.add_argument("--trials", type=int, default=1,
                        help="cold starts per lab (each is one row)")
    parser.add_argument("--cpu", action="store_true",
                        help="print each trial's CPU seconds per daemon kind")
    parser.add_argument("--trace", default="",
                        help="copy each node's logs here per trial (DIR/trialN/NODE)")
    parser.add_argument("--profile", default="",
                        help="run every daemon under cProfile, stats in DIR/NODE-DAEMON.prof "
                             "after each trial (the last trial's stay)")
    args = parser.parse_args()
    if args.name and "," in args.nodes:
        parser.error("--name needs a single --nodes count")
    return args


def _pacemaker_rows() -> tuple[list[list[str]], float | None]:
    """The Pacemaker lab's rows and its cold restart time (None when skipped or unstable)."""
    why = pcmk.missing()
    if why:
        print(f"SKIP Pacemaker side: {why}")
        return [], None
    first_up, theirs = pacemaker()
    return [["Pacemaker 3 nodes, first `up` (incl. configuration)",
             f"{first_up:.1f}", "-", "", load_average()],
            ["Pacemaker 3 nodes, cold restart", f"{theirs:.1f}" if theirs else
             "no stable cluster", "1.00x", "", load_average()]], theirs


def _our_rows(args: argparse.Namespace, theirs: float | None) -> list[list[str]]:
    """One row per trial of each of our labs, with the ratio to Pacemaker's restart."""
    rows = []
    how = "together" if args.together else "one after the other"
    for count in (int(n) for n in args.nodes.split(",") if n):
        name = args.name or f"{args.lab}{count}"
        measured = ours(count, name, args.together, args.trials, args.trace,
                        args.cpu)
        no_trial: list[tuple[float | None, float | None, str]] = [(None, None, load_average())]
        for took, after_boot, load in measured or no_trial:
            goal = GOALS.get(count)
            verdict = "" if took is None or goal is None else (
                "ok" if took <= goal else "missed")
            rows.append([f"ours {count} nodes, started {how}", "not measured" if took is None
                         else f"{took:.1f} ({after_boot:.1f} after the last boot command)",
                         ratio(took, theirs), verdict, load])
    return rows


if __name__ == "__main__":
    main()
