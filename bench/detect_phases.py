"""Where the detection time goes: a per-phase trace of kill -9 -> agreed view in a running
namespace lab (root), from what every survivor's heartbeat and ccm publish.

For each trial the trace subscribes to every survivor's heartbeat.pub (status, table and
the "ccm" channel's messages) and ccm.pub, SIGKILLs the victim's PID namespace and records,
on the one CLOCK_MONOTONIC every namespace shares:
- last   the victim's last packet as each survivor's heartbeat heard it (NodeTable.last_heard)
- dead   heartbeat's "dead" decision on each survivor (NodeStatusChanged.now)
- prop   the coordinator's Propose (its own heartbeat delivers its broadcast back at once)
- acks   the last Ack delivered to the coordinator's heartbeat
- commit the coordinator's Commit, and each member's delivery of it
- view   each survivor's ccm MembershipChanged without the victim
Times are printed relative to `last + deadtime` (the earliest a correct heartbeat may
declare the death), so everything after 0 is what the stack adds; `kill` is the kill's own
time on that scale (negative: the victim was killed that long before its silence counted).
Nothing here reads /proc of the dying node: that blocked the reader for as long as the
victim took to exit (up to 800 ms on a loaded host), and every time after it came out late.

    python bench/detect_phases.py --name LAB [--trials 10] [--first 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ccm.api import API as CCM_API
from ccm.api import MembershipChanged
from ccm.protocol import CHANNEL, Ack, Commit, Nack, Propose, from_wire
from lab import netns
from lab.cli import wait_until_settled
from lab.layout import LabState, load
from messaging.envelope import decode
from messaging.errors import RemoteProtocolError
from messaging.heartbeat import api as hb


@dataclass
class Trace:
    """What one trial saw, per survivor (monotonic seconds)."""

    victim: str
    killed: float = 0.0
    killed_wall: float = 0.0  # the same instant on the wall clock, to find it in the logs
    last: dict[str, float] = field(default_factory=dict)
    dead: dict[str, float] = field(default_factory=dict)
    view: dict[str, float] = field(default_factory=dict)
    proposes: list[tuple[float, str, int]] = field(default_factory=list)  # (t, coord, round)
    answers: list[tuple[float, str, str, str]] = field(default_factory=list)  # t, at, src, kind
    commits: dict[str, float] = field(default_factory=dict)  # first Commit delivery per node


def _subscribe(context: zmq.Context[zmq.Socket[bytes]], address: str,
               topics: tuple[bytes, ...]) -> zmq.Socket[bytes]:
    sock: zmq.Socket[bytes] = context.socket(zmq.SUB)
    for topic in topics:
        sock.setsockopt(zmq.SUBSCRIBE, topic)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    return sock


def _on_heartbeat(trace: Trace, node: str, data: bytes, now: float) -> None:
    try:
        event = decode(hb.IPC, data).message
    except RemoteProtocolError:
        return
    if isinstance(event, hb.NodeStatusChanged) and event.node == trace.victim:
        if event.status is hb.NodeState.DEAD:
            trace.dead.setdefault(node, event.now)
    elif isinstance(event, hb.NodeTable) and node in trace.dead:  # a table after the death
        for row in event.nodes:
            if row.node == trace.victim and row.last_heard is not None:
                trace.last[node] = row.last_heard
    elif isinstance(event, hb.MessageReceived) and event.channel == CHANNEL:
        _on_ccm_message(trace, node, event, now)


def _on_ccm_message(trace: Trace, node: str, event: hb.MessageReceived, now: float) -> None:
    try:
        message = from_wire(event.payload)
    except RemoteProtocolError:
        return
    if isinstance(message, Propose) and event.src == node:
        trace.proposes.append((now, node, message.round))
    elif isinstance(message, Ack | Nack):
        trace.answers.append((now, node, event.src, type(message).__name__))
    elif isinstance(message, Commit) and trace.victim not in message.members:
        trace.commits.setdefault(node, now)


def one_trial(state: LabState, victim: str, timeout: float, grace: float) -> Trace:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    poller, socks = zmq.Poller(), {}
    for node, info in state.nodes.items():
        if node == victim:
            continue
        directory = Path(info.directory) / "state"
        for kind, address, topics in (
                ("hb", hb.pub_endpoint(directory),
                 (hb.TOPIC_STATUS, hb.TOPIC_TABLE, hb.message_topic(CHANNEL))),
                ("ccm", f"ipc://{directory / 'ccm.pub'}", (b"",))):
            sock = _subscribe(context, address, topics)
            poller.register(sock, zmq.POLLIN)
            socks[sock] = (kind, node)
    time.sleep(0.3)  # let the subscriptions reach the publishers
    trace = Trace(victim)
    trace.killed, trace.killed_wall = time.monotonic(), time.time()
    killer = threading.Thread(target=netns.kill_node, args=(state, victim))
    killer.start()  # it waits for the node's processes to exit: read the events meanwhile
    survivors = len(state.nodes) - 1
    finished = None
    while time.monotonic() - trace.killed < timeout:
        if finished is None and len(trace.view) == survivors and len(trace.last) == survivors:
            finished = time.monotonic()
        if finished is not None and time.monotonic() - finished > grace:
            break
        for sock, _ in poller.poll(10):
            now = time.monotonic()
            kind, node = socks[sock]
            data = sock.recv_multipart()[-1]
            if kind == "hb":
                _on_heartbeat(trace, node, data, now)
            else:
                _on_view(trace, node, data, now)
    killer.join()
    for sock in socks:
        sock.close()
    return trace


def _on_view(trace: Trace, node: str, data: bytes, now: float) -> None:
    try:
        event = decode(CCM_API, data).message
    except RemoteProtocolError:
        return
    if isinstance(event, MembershipChanged) and trace.victim not in event.members:
        trace.view.setdefault(node, now)


def phases(trace: Trace, deadtime: float) -> dict[str, float] | None:
    """Milliseconds of each phase relative to the earliest allowed death (None: incomplete)."""
    if not trace.last or not trace.dead or not trace.view:
        return None
    zero = max(trace.last.values()) + deadtime  # the victim's last packet, last heard
    ms = {"kill": trace.killed - zero}
    ms["dead_first"] = min(trace.dead.values()) - zero
    ms["dead_last"] = max(trace.dead.values()) - zero
    late = [trace.dead[n] - (trace.last[n] + deadtime) for n in trace.dead if n in trace.last]
    ms["timer_late_max"] = max(late) if late else float("nan")
    final = [p for p in trace.proposes if p[0] >= min(trace.dead.values()) - 0.05]
    ms["rounds"] = len(final)
    if final:
        t, coordinator, _ = final[-1]
        ms["coord_dead"] = trace.dead.get(coordinator, float("nan")) - zero
        ms["propose"] = t - zero
        acks = [a[0] for a in trace.answers if a[1] == coordinator and a[0] >= t]
        ms["acks_last"] = (max(acks) if acks else float("nan")) - zero
        ms["nacks"] = sum(1 for a in trace.answers if a[3] == "Nack" and a[0] >= final[0][0])
        ms["commit"] = trace.commits.get(coordinator, float("nan")) - zero
    if trace.commits:
        ms["commit_last"] = max(trace.commits.values()) - zero
    ms["view_first"] = min(trace.view.values()) - zero
    ms["view_last"] = max(trace.view.values()) - zero
    ms["total"] = max(trace.view.values()) - trace.killed
    return {k: (v * 1000 if k not in ("rounds", "nacks") else v) for k, v in ms.items()}


COLUMNS = ("kill", "dead_first", "dead_last", "timer_late_max", "coord_dead", "propose",
           "acks_last", "commit", "commit_last", "view_first", "view_last", "rounds", "nacks",
           "total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="a running netns lab")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--first", type=int, default=0, help="index of the first victim")
    args = parser.parse_args()
    from messaging.daemon import raise_priority

    print(f"trace priority: {raise_priority(lock=False)}", file=sys.stderr)
    state = load(args.name, False)
    if state is None:
        raise SystemExit(f"no lab {args.name}")
    deadtime = state.spec.deadtime_ms / 1000
    nodes = list(state.nodes)
    print(f"{len(nodes)} nodes, keepalive {state.spec.keepalive_ms} ms, deadtime "
          f"{state.spec.deadtime_ms} ms; ms relative to last packet heard + deadtime")
    print(" ".join(f"{c:>10}" for c in ("victim", *COLUMNS)), "killed (UTC)")
    rows = []
    for trial in range(args.trials):
        victim = nodes[(args.first + trial) % len(nodes)]
        state = load(args.name, False)  # the holders of restarted nodes changed
        assert state is not None
        trace = one_trial(state, victim, 10 + 30 * deadtime, 0.5)
        _restart(args.name, victim, nodes)
        row = phases(trace, deadtime)
        if row is None:
            print(f"{victim:>10} incomplete trace: {trace}")
            continue
        rows.append(row)
        killed_at = time.strftime("%H:%M:%S", time.gmtime(trace.killed_wall))
        print(" ".join([f"{victim:>10}", *(f"{row.get(c, float('nan')):>10.1f}"
                                           for c in COLUMNS), killed_at]), flush=True)
    if rows:
        print(" ".join([f"{'median':>10}", *(
            f"{statistics.median(r.get(c, float('nan')) for r in rows):>10.1f}"
            for c in COLUMNS)]))


def _restart(name: str, victim: str, nodes: list[str]) -> None:
    state = load(name, False)
    assert state is not None
    netns.start_node(state, victim)
    # the cluster fences the victim too: its reboot must not land in the next trial
    wait_until_settled(load(name, False), nodes, 180)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
