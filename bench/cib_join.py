"""The 2 MB join rows of `cib_roundtrip.py`: a joining node receiving a 2 MB CIB, where the
join's time goes (the joiner's boot phases and the copy's hops, from both nodes' logs: one
host clock), the CPU of the master's and the joiner's cib meanwhile, and the cib daemon's
memory holding the 2 MB CIB. HACLUSTER_BENCH_LOGS=DIR keeps the joiner's and the master's
cib lines there, to read a join whole.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from benchlib import OurLab, cpu_seconds, memory_kb, process_name
from crm_probe import Runner

OUR_CIBADMIN = Path(sys.executable).parent / "cibadmin"
BULK_SET = "hcbench-bulk"
SETTLE = 6.0  # after the join: whole copies it caused still count; then the memory (after
# cib.service's heap trim, TRIM_DELAY after the last change)


def _bulk_xml() -> str:
    """One cluster_property_set of 22000 nvpairs (2 MB)."""
    pairs = "".join(f'<nvpair id="{BULK_SET}{n:05d}" name="{BULK_SET}{n:05d}" '
                    f'value="{"x" * 40}"/>' for n in range(22000))
    return f'<cluster_property_set id="{BULK_SET}">{pairs}</cluster_property_set>'


def big_cib(lab: OurLab, names: list[str], dc: str, run_in: Runner) -> dict[str, object]:
    """A joining node receiving a 2 MB CIB, and the cib daemon's memory holding it."""
    joiner = next(n for n in names if n != dc)
    version = _kill_and_load(lab, joiner, dc, run_in)
    state_dir = lab.status()["nodes"][joiner]["state_dir"]
    cib_pids = [p for p in lab.node_pids(dc) if process_name(p) == "cib"]
    master_cpu = cpu_seconds(cib_pids[0]) if cib_pids else 0.0
    started, started_wall = time.monotonic(), time.time()
    lab.lab("start", joiner)
    took = _shown_after(state_dir, _epoch(version), started)
    if took is None:
        return {"2 MB CIB to a joining node (node start to CIB shown), s": None}
    master_cpu = cpu_seconds(cib_pids[0]) - master_cpu if cib_pids else 0.0
    joiner_cib = [p for p in lab.node_pids(joiner) if process_name(p) == "cib"]
    joiner_cpu = cpu_seconds(joiner_cib[0]) if joiner_cib else None  # before the settle
    joined = _join_rows(lab, names, joiner, started_wall)  # logs read before the settle
    settled = _settled_rows(lab, names, started_wall, cib_pids, joiner_cib)
    return {"2 MB CIB to a joining node (node start to CIB shown), s": took, **joined,
            "CPU s of the master's cib from node start to CIB shown": master_cpu,
            "CPU s of the joiner's cib from its start to CIB shown": joiner_cpu,
            **settled}


def _kill_and_load(lab: OurLab, joiner: str, dc: str, run_in: Runner) -> str:
    """Kill `joiner`, create the 2 MB set on the DC; the start of the DC's CIB after it."""
    path = Path("/tmp") / f"{lab.name}-bulk.xml"
    path.write_text(_bulk_xml())
    # With fencing on, the DC reboots the killed node at once (the lab's fence device; a
    # node boots in ~1 s since the node forker): it was back before the 2 MB create, which
    # then reached it as a replicated diff while this measured a `lab start` of a running
    # node. Off, the node stays down until started: what is timed is a join again.
    run_in(dc, f"{OUR_CIBADMIN.parent / 'crm_attribute'} -t crm_config -n stonith-enabled "
               "-v false")
    lab.lab("kill", joiner)
    _wait_stopped(lab, joiner)
    _create_retrying(run_in, dc, path)
    return run_in(dc, f"{OUR_CIBADMIN} -Q | head -c 400")


def _join_rows(lab: OurLab, names: list[str], joiner: str,
               started_wall: float) -> dict[str, object]:
    """The join read from the nodes' logs: bulk fetch, view to copy, hops and phases."""
    logs = {node: node_log(lab, node) for node in names}
    lines = logs[joiner]
    senders = [line for node in names if node != joiner for line in logs[node]]
    if os.environ.get("HACLUSTER_BENCH_LOGS"):  # where the logs are kept, to read the join
        for node, found in logs.items():
            Path(os.environ["HACLUSTER_BENCH_LOGS"], f"{lab.name}-{node}.log").write_text(
                "\n".join(found))
    fetches = [line for line in lines if "bulk_fetched" in line]  # netns: the launcher logs
    fetch_ms = _field(fetches[-1], "ms") if fetches else None
    return {"2 MB CIB bulk fetch on the joiner (from its cib log), s":
                None if fetch_ms is None else fetch_ms / 1e3,
            "2 MB CIB: joiner's cib sees the full view to CIB held (its log), s":
                _view_to_copy(lines, len(names)),
            **_join_hops(lines, senders, len(names), joiner),
            **_join_phases(lines, started_wall)}


def _settled_rows(lab: OurLab, names: list[str], started_wall: float, cib_pids: list[int],
                  joiner_cib: list[int]) -> dict[str, object]:
    """After SETTLE seconds: whole copies sent since the start, both cib daemons' memory."""
    time.sleep(SETTLE)  # whole copies sent after the join (resyncs it caused) count too,
    rss, pss = memory_kb(cib_pids[0]) if cib_pids else (0, 0)  # memory once settled
    joiner_memory = memory_kb(joiner_cib[0]) if joiner_cib else (0, 0)
    copies = _whole_copies(lab, names, started_wall)
    return {f"whole CIBs any cib sent from node start to {SETTLE:.0f} s after shown": copies,
            "cib daemon with 2 MB CIB (PSS, RSS MB)": (pss / 1024, rss / 1024),
            "the joiner's cib daemon with it (PSS, RSS MB)": (
                joiner_memory[1] / 1024, joiner_memory[0] / 1024)}


def _whole_copies(lab: OurLab, names: list[str], since_wall: float) -> int:
    """How many `cib_full_sent` the nodes' logs hold after `since_wall` (epoch seconds)."""
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(since_wall, UTC).replace(tzinfo=None)
    return sum(1 for node in names for line in node_log(lab, node)
               if " cib_full_sent " in line
               and datetime.fromisoformat(line.split()[0].rstrip("Z")) >= since)


def node_log(lab: OurLab, node: str) -> list[str]:
    """The cib's lines of a node's logs (in a network namespace the launcher's log holds
    them)."""
    logs = Path(lab.status()["nodes"][node]["state_dir"]).parent / "log"
    return [line for name in ("cib.log", "launcher.log") if (logs / name).exists()
            for line in (logs / name).read_text(errors="replace").splitlines()]


def _join_hops(lines: list[str], others: list[str], members: int,
               joiner: str) -> dict[str, object]:
    """The last join's hops, from the joiner's log and the other nodes' (`others`; one host
    clock): the full view on the joiner to its copy's sender sending it (the master, or the
    holder of the best copy when the joiner is the view's first master: the lowest node
    id), that to the joiner holding the frame (offer over heartbeat, then the fetch), the
    sender's bulk send, and the joiner taking it (parse, check, adopt, publish: wall and CPU
    ms; as the view's first master, the writes queued meanwhile too)."""
    from datetime import datetime

    def stamp(line: str) -> datetime:
        return datetime.fromisoformat(line.split()[0].rstrip("Z"))

    def last(found: list[str], event: str) -> str | None:
        hits = [line for line in found if f" {event} " in line]
        return hits[-1] if hits else None

    fetched = last(lines, "bulk_fetched")
    before = [line for line in lines if fetched is None or stamp(line) <= stamp(fetched)]
    views = [line for line in before if "cib_view" in line and line.count("'n") == members]
    sent = last([line for line in sorted(others) if f"to={joiner}" in line
                 and (fetched is None or stamp(line) <= stamp(fetched))], "cib_full_sent")
    served = last([line for line in sorted(others) if "bulk_served" in line
                   and (fetched is None or stamp(line) <= stamp(fetched))], "bulk_served")
    taken = next((line for line in lines if " cib_full_taken " in line and fetched
                  and stamp(line) >= stamp(fetched)), None)  # the fetched copy's
    rows: dict[str, object] = {
        "join: full view -> the joiner's cib holds the copy (taken), s":
            (stamp(taken) - stamp(views[-1])).total_seconds() if taken and views else None,
        "join hop: full view -> the copy is sent, s":
            (stamp(sent) - stamp(views[-1])).total_seconds() if sent and views else None,
        "join hop: sent -> joiner fetched it, s":
            (stamp(fetched) - stamp(sent)).total_seconds() if sent and fetched else None,
        "join hop: the sender's bulk send (bulk_served), s": _seconds(served, "ms"),
        "join hop: joiner takes the copy (parse, adopt, publish), wall / CPU":
            (_seconds(taken, "ms"), _seconds(taken, "cpu_ms")) if taken else None}
    return rows


def _seconds(line: str | None, name: str) -> float | None:
    """A log line's field of milliseconds, in seconds (None when absent)."""
    value = _field(line, name) if line else None
    return None if value is None else value / 1e3


# Where a join's time goes: the joiner's own log events, in boot order.
_JOIN_EVENTS = (("launcher up", "zygote_started"), ("heartbeat up", "heartbeat_started"),
                ("in the membership view", "membership_changed"),
                ("cib up (own disk copy loaded)", "cib_started"),
                ("cib knows the master", "cib_master"), ("CIB fetched", "bulk_fetched"))


def _join_phases(lines: list[str], started_wall: float) -> dict[str, object]:
    """Seconds from the `lab start` command to the first of each `_JOIN_EVENTS` in the
    joiner's log after it (None when absent)."""
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(started_wall, UTC).replace(tzinfo=None)
    rows: dict[str, object] = {}
    for label, event in _JOIN_EVENTS:
        seconds = None
        for line in lines:
            if f" {event} " not in line:
                continue
            when = datetime.fromisoformat(line.split()[0].rstrip("Z"))
            if when >= start:
                seconds = (when - start).total_seconds()
                break
        rows[f"join: node start -> {label} (joiner's log), s"] = seconds
    return rows


def _shown_after(state_dir: str, version: tuple[int, ...], started: float) -> float | None:
    """Seconds from `started` until the joiner's cib shows `version` or later (at or past
    it: crmd's writes for the joining node may follow at once), as `cibadmin -Q -l -n -A
    /cib` would show it; None after a minute. Asked from the host through the node's
    socket every 50 ms on one connection (re-opened when the node's cib is not up yet):
    a `lab exec ... cibadmin` process per sample, as before, added its start and namespace
    entry (0.1-0.4 s at load 5) to the measured join."""
    from cib.api import CibClient
    from cib.request import Op, Request
    from messaging.errors import HAError

    client: CibClient | None = None
    try:
        while time.monotonic() - started < 60:
            try:
                client = client or CibClient(state_dir, timeout=1.0, name="bench")
                reply = client.perform(Request(Op.QUERY, xpath="/cib", no_children=True))
                if _epoch(reply.output or "") >= version:
                    return time.monotonic() - started
            except (HAError, OSError):
                if client is not None:
                    client.close()
                client = None
            time.sleep(0.05)
        return None
    finally:
        if client is not None:
            client.close()


def _create_retrying(run_in: Runner, dc: str, path: Path) -> None:
    """Create the bulk set on `dc`; the kill's view change may answer 102 (outcome unknown)."""
    for attempt in range(10):
        try:
            run_in(dc, f"{OUR_CIBADMIN} -C -o crm_config -x {path}")
            return
        except RuntimeError as error:
            if "already exists" in str(error):  # an earlier try did apply it
                return
            if "view changed" not in str(error) or attempt == 9:
                raise
            time.sleep(1.0)


def _wait_stopped(lab: OurLab, node: str) -> None:
    """Wait until the lab reports `node` stopped (the kill is a power cut)."""
    deadline = time.monotonic() + 30
    while lab.status()["nodes"][node].get("running") and time.monotonic() < deadline:
        time.sleep(0.1)


def _view_to_copy(lines: list[str], members: int) -> float | None:
    """Seconds from the joiner's cib seeing every member (its last full cib_view) to its
    copy being fetched (bulk_fetched): the cib's part of a join, without the node's boot
    and the membership forming before it."""
    from datetime import datetime

    def stamp(line: str) -> datetime:
        return datetime.fromisoformat(line.split()[0].rstrip("Z"))

    fetched = [line for line in lines if "bulk_fetched" in line]
    views = [line for line in lines if "cib_view" in line and line.count("'n") == members
             and (not fetched or stamp(line) <= stamp(fetched[-1]))]
    if not fetched or not views:
        return None
    return (stamp(fetched[-1]) - stamp(views[-1])).total_seconds()


def _field(line: str, name: str) -> float | None:
    import re

    found = re.search(rf"\b{name}=([0-9.]+)", line)
    return float(found.group(1)) if found else None


def _epoch(xml: str) -> tuple[int, ...]:
    """The version triple in the order admin_epoch, epoch, num_updates (attribute order in
    the text varies), empty when the text has none."""
    import re

    found = dict(re.findall(r'\b(admin_epoch|epoch|num_updates)="(\d+)"', xml[:400]))
    if len(found) < 3:
        return ()
    return tuple(int(found[name]) for name in ("admin_epoch", "epoch", "num_updates"))
