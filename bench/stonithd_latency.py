"""Fencing latency: request-to-result time through real stonithd daemons and real
fence_hacluster_dummy processes, and the share of it spent inside the agent.

    python bench/stonithd_latency.py [--count 50]

Scenarios: `local` (one daemon that runs the device itself) and `peer` (the daemon asked
has no device and a second daemon executes it). Each request is a sequential
FenceRequest(reboot) sent with stonithd.api.StonithClient over zmq ipc; the agent's own run
time comes from the daemons' `agent_finished` log events (elapsed of the process run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stonithd.api import FenceRequest, FenceResult, StonithClient  # noqa: E402

AGENT_BIN = REPO / "agents" / "fence" / "bin"


def _cib(state: Path, ban: str) -> str:
    constraint = f'<rsc_location id="ban" rsc="d1" node="{ban}" score="-INFINITY"/>' if ban else ""
    return ('<cib><configuration><resources><primitive id="d1" class="stonith" '
            'type="fence_hacluster_dummy"><instance_attributes id="i">'
            '<nvpair id="a" name="pcmk_host_list" value="target"/>'
            f'<nvpair id="b" name="state_file" value="{state}"/></instance_attributes>'
            f"</primitive></resources><constraints>{constraint}</constraints>"
            "</configuration></cib>")


def _start(tmp: Path, node: str, peers: dict[str, str], cib: Path) -> subprocess.Popen[bytes]:
    env = {"PYTHONPATH": str(REPO), "HACLUSTER_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, "-m", "stonithd", "--cib", str(cib), "--state-dir",
            str(tmp / node), "--node", node, "--agent-dir", str(AGENT_BIN), "--log-json"]
    for name, endpoint in peers.items():
        argv += ["--peer", f"{name}={endpoint}"]
    log = open(tmp / f"{node}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    while not (tmp / node / "stonithd.sock").exists():
        if proc.poll() is not None:
            raise SystemExit((tmp / f"{node}.log").read_text())
        time.sleep(0.02)
    return proc


def _agent_times(tmp: Path) -> list[float]:
    times = []
    for log in tmp.glob("*.log"):
        for line in log.read_text().splitlines():
            if '"agent_finished"' in line:
                times.append(json.loads(line)["elapsed"])
    return times


def _scenario(name: str, count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        cib = tmp / "cib.xml"
        cib.write_text(_cib(tmp / "power.json", "a" if name == "peer" else ""))
        ends = {"a": f"ipc://{tmp}/a/stonithd.sock", "b": f"ipc://{tmp}/b/stonithd.sock"}
        nodes = ["a", "b"] if name == "peer" else ["a"]
        procs = [_start(tmp, n, {k: v for k, v in ends.items() if k in nodes}, cib)
                 for n in nodes]
        latencies = []
        try:
            with StonithClient(ends["a"]) as client:
                for _ in range(count + 2):
                    started = time.perf_counter()
                    result = client.call(FenceRequest("target", "reboot", 60), 90)
                    latencies.append(time.perf_counter() - started)
                    assert isinstance(result, FenceResult) and result.ok, result
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()
        latencies = latencies[2:]  # the first requests pay for imports and metadata
        agent = _agent_times(tmp)[-count:]
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    overhead = [total - inside for total, inside in zip(latencies, agent, strict=True)]
    return {"p50": statistics.median(latencies), "p90": quantiles[89], "p99": quantiles[98],
            "max": max(latencies), "agent_p50": statistics.median(agent),
            "share": sum(agent) / sum(latencies), "overhead_p50": statistics.median(overhead),
            "overhead_p99": statistics.quantiles(overhead, n=100, method="inclusive")[98]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# {os.cpu_count()} CPUs, load average {load} (agent wall time includes waiting "
          "for a CPU)")
    print(f"{'scenario':<8} {'n':>4} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'agent p50':>10} {'in agent':>9} {'fencer p50':>11} {'fencer p99':>11}")
    for name in ("local", "peer"):
        r = _scenario(name, args.count)
        print(f"{name:<8} {args.count:>4} {r['p50'] * 1e3:>8.1f} {r['p90'] * 1e3:>8.1f} "
              f"{r['p99'] * 1e3:>8.1f} {r['max'] * 1e3:>8.1f} {r['agent_p50'] * 1e3:>8.1f}ms "
              f"{r['share'] * 100:>8.1f}% {r['overhead_p50'] * 1e3:>9.1f}ms "
              f"{r['overhead_p99'] * 1e3:>9.1f}ms")


if __name__ == "__main__":
    main()
