"""attrd costs in a running 3-node namespace lab (issue 9's attribute manager).

    python bench/attrd_roundtrip.py [--count 100] [--lab NAME]

Rows (p50/p99 over --count sequential updates, each a new value):
- API update round trip (`cib.api.AttrdClient.update`, host to the node's attrd.ctl) on a
  non-writer node and on the writer (n1, the lowest name);
- API query round trip;
- propagation: update on n2 until n3's attrd answers the new value (polled every 1 ms);
- to the CIB: update on n2 until n3's copy of the CIB has it in transient_attributes
  (the writer's write, the cib master's replication, n3's replica; polled every 2 ms);
- `attrd_updater -U` (process start included) on n2.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import OurLab, load_average, p50_p99, table

OUR_UPDATER = Path(sys.executable).parent / "attrd_updater"


def _timed(action: Callable[[int], object], count: int) -> list[float]:
    samples = []
    for index in range(count):
        started = time.perf_counter()
        action(index)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _until(condition: Callable[[], bool], pause: float, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(pause)


def measure(dirs: dict[str, str], count: int) -> list[tuple[str, list[float]]]:
    from cib.api import AttrdClient, CibClient
    from cib.request import Op, Request
    from messaging.errors import NotFoundError

    rows: list[tuple[str, list[float]]] = []
    with AttrdClient(dirs["n1"]) as writer, AttrdClient(dirs["n2"]) as other, \
            AttrdClient(dirs["n3"]) as far, CibClient(dirs["n3"]) as cib:
        rows.append(("API update, non-writer (n2)", _timed(
            lambda i: other.update("bench-a", str(i)), count)))
        rows.append(("API update, writer (n1)", _timed(
            lambda i: writer.update("bench-b", str(i)), count)))
        rows.append(("API query", _timed(lambda i: other.query("bench-a"), count)))

        def seen(value: str) -> bool:
            try:
                return far.query("bench-c", "n2").get("n2") == value
            except NotFoundError:  # n3 has not heard of the attribute yet
                return False

        def propagate(i: int) -> None:
            other.update("bench-c", f"p{i}")
            _until(lambda: seen(f"p{i}"), 0.001)

        rows.append(("update n2 -> seen by n3's attrd", _timed(propagate, count)))
        xpath = ("/cib/status/node_state/transient_attributes//nvpair[@name='bench-d']")

        def in_cib(value: str) -> bool:
            reply = cib.perform(Request(Op.QUERY, xpath=xpath))
            return reply.exit_code == 0 and f'value="{value}"' in (reply.output or "")

        def to_cib(i: int) -> None:
            other.update("bench-d", f"c{i}")
            _until(lambda: in_cib(f"c{i}"), 0.002)

        rows.append(("update n2 -> in n3's CIB status", _timed(to_cib, count)))
    env = dict(os.environ, HACLUSTER_STATE_DIR=dirs["n2"])
    rows.append(("attrd_updater -U (process start included)", _timed(
        lambda i: subprocess.run([str(OUR_UPDATER), "-n", "bench-e", "-U", str(i)], env=env,
                                 check=True), count)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--lab", default=os.environ.get("HACLUSTER_BENCH_LAB", "benchatd"))
    args = parser.parse_args()
    lab = OurLab(args.lab)
    lab.up(3)
    try:
        dirs = {n: info["state_dir"] for n, info in lab.status()["nodes"].items()}
        from cib.api import AttrdClient
        from messaging.errors import HAError

        def attrd_up() -> bool:
            try:
                with AttrdClient(dirs["n3"], timeout=1.0) as client:
                    client.refresh()
            except HAError:
                return False
            return True

        _until(attrd_up, 0.2, 60)
        before = load_average()
        rows = measure(dirs, args.count)
        after = load_average()
    finally:
        lab.down()
    print(f"3-node namespace lab, {args.count} requests per row; {before} before, "
          f"{after} after")
    print(table(["measure", "p50 ms", "p99 ms"],
                [(name, f"{p50_p99(s)[0]:.1f}", f"{p50_p99(s)[1]:.1f}") for name, s in rows]))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
