"""CPU a controller spends on one published CIB status diff, as DC and as a non-DC
(`crmd.cib_link.CibLink._on_diff` feeding a `crmd.fsa.Controller` that is not DC), in one
process: process time, which load does not distort.

    python bench/crmd_follower_cpu.py [--ops 1 40] [--rounds 2000]

A diff is a node's lrm section of `--ops` operation records (half starts, half recurring
monitors), as a join confirm's history rewrite writes it. Rows: microseconds of CPU per
diff on the path every event takes (what a DC does, and what every non-DC did before it
took only versions) and on the follower path (version only).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lxml import etree

from cib.api import CibDiff, create_patchset, parse
from crmd.cib_link import CibLink
from crmd.fsa import Controller
from crmd.timing import ControllerTiming
from messaging.logs import get_logger
from messaging.version import Version

BEFORE = ('<cib epoch="3" num_updates="1" admin_epoch="0"><configuration><crm_config/>'
          '<nodes/><resources/><constraints/></configuration><status>'
          '<node_state id="2" uname="n2" in_ccm="true" crmd="online"/></status></cib>')


def history_diff(ops: int) -> CibDiff:
    """The diff that writes node 2's lrm section of `ops` operation records."""
    resources = "".join(
        f'<lrm_resource id="r{i // 2}" type="Dummy" class="ocf" provider="heartbeat">'
        f'<lrm_rsc_op id="r{i // 2}_{"last_0" if i % 2 == 0 else "monitor_10000"}" '
        f'operation="{"start" if i % 2 == 0 else "monitor"}" rc-code="0" op-status="0" '
        f'transition-key="{i}:0:0:dc" call-id="{i}" interval="{0 if i % 2 == 0 else 10000}"/>'
        f'</lrm_resource>' for i in range(ops))
    after = BEFORE.replace('num_updates="1"', 'num_updates="2"').replace(
        '<node_state id="2" uname="n2" in_ccm="true" crmd="online"/>',
        f'<node_state id="2" uname="n2" in_ccm="true" crmd="online"><lrm id="2">'
        f'<lrm_resources>{resources}</lrm_resources></lrm></node_state>')
    patch = create_patchset(parse(BEFORE), parse(after))
    assert patch is not None
    return CibDiff(etree.tostring(patch, encoding="unicode"), Version(0, 3, 2))


async def cpu_per_diff(diff: CibDiff, leading: bool, rounds: int) -> float:
    """Microseconds of process time per `_on_diff` of `diff`, events fed to a non-DC core."""
    with tempfile.TemporaryDirectory() as directory:
        link = CibLink(Path(directory), get_logger(daemon="crmd", node="n1"))
        core = Controller("n1", {"n1": "1", "n2": "2"}, 0.0, ControllerTiming(),
                          results_from_cib=True)
        feed: Any = core.handle
        try:
            start = time.process_time()
            for _ in range(rounds):
                link._on_diff(diff, feed, 1.0, 2.0, leading)
            return (time.process_time() - start) / rounds * 1e6
        finally:
            link.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, nargs="+", default=[1, 40])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    print("| operation records in the diff | every event (DC; non-DC before) µs | "
          "version only (non-DC) µs |")
    print("|---|---|---|")
    for ops in args.ops:
        diff = history_diff(ops)
        full = asyncio.run(cpu_per_diff(diff, True, args.rounds))
        follower = asyncio.run(cpu_per_diff(diff, False, args.rounds))
        print(f"| {ops} | {full:.1f} | {follower:.1f} |")


if __name__ == "__main__":
    main()
