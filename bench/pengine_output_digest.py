#!/usr/bin/env python3
"""Prove a speed change left the policy engine's output alone: digest every output, compare.

For each input (the 574 corpus CIBs in ../shared/conformance/scheduler/xml, the reduced
regression cases in tests/differential/cases and the differential generator's seeds
1..--seeds) it runs our crm_simulate in this process with
`-x F -S -s -G graph -t 2022-12-08T00:00:00Z` (whole simulation, allocation scores and the
transition graph, at a fixed time) and records a SHA-1 of stdout, exit code and graph text.
Run it on two checkouts and compare the files: any differing name is a behaviour change.
`--command CMD` runs CMD (e.g. the venv's crm_simulate console script) as a process per
input instead, so the entry point's own path (argument reading, exit) is covered too; its
digests (stdout, stderr, exit code, graph) compare only with another --command run.

    python bench/pengine_output_digest.py before.json          # in the old checkout
    python bench/pengine_output_digest.py after.json --compare before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from click.testing import CliRunner  # noqa: E402

from pengine.cli import crm_simulate  # noqa: E402
from tests.differential.generate import generate  # noqa: E402

FIXED_TIME = "2022-12-08T00:00:00Z"


def inputs(seeds: int, workdir: Path) -> list[Path]:
    corpus = REPO.parent / "shared/conformance/scheduler/xml"
    paths = sorted(corpus.glob("*.xml")) + sorted((REPO / "tests/differential/cases").glob(
        "*.xml"))
    for seed in range(1, seeds + 1):
        path = workdir / f"seed{seed}.xml"
        path.write_text(generate(seed).xml)
        paths.append(path)
    return paths


def digest(path: Path, graph: Path) -> str:
    graph.unlink(missing_ok=True)
    result = CliRunner().invoke(crm_simulate, ["-x", str(path), "-S", "-s", "-G", str(graph),
                                               "-t", FIXED_TIME])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    text = f"{result.output}\nEXIT {result.exit_code} {crashed}\n"
    if graph.exists():
        text += graph.read_text()
    return hashlib.sha1(text.encode()).hexdigest()


def digest_process(command: list[str], path: Path, graph: Path) -> str:
    """The digest of one run of `command` as a process (stdout, stderr, exit code, graph)."""
    graph.unlink(missing_ok=True)
    result = subprocess.run([*command, "-x", str(path), "-S", "-s", "-G", str(graph), "-t",
                             FIXED_TIME], capture_output=True, text=True, timeout=600,
                            check=False)
    text = f"{result.stdout}\nSTDERR {result.stderr}\nEXIT {result.returncode}\n"
    if graph.exists():
        text += graph.read_text()
    return hashlib.sha1(text.encode()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write name -> digest (JSON)")
    parser.add_argument("--seeds", type=int, default=500, help="generator seeds 1..N")
    parser.add_argument("--compare", type=Path, help="an earlier output to compare with")
    parser.add_argument("--command", help="run this crm_simulate as a process per input")
    parser.add_argument("--jobs", type=int, default=2, help="processes at once (--command)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        paths = inputs(args.seeds, workdir)
        if args.command:
            command = shlex.split(args.command)
            with ThreadPoolExecutor(args.jobs) as pool:
                found = pool.map(lambda item: digest_process(
                    command, item[1], workdir / f"graph{item[0]}.xml"), enumerate(paths))
                digests = dict(zip((path.name for path in paths), found, strict=True))
        else:
            digests = {path.name: digest(path, workdir / "graph.xml") for path in paths}
    args.output.write_text(json.dumps(digests, indent=0, sort_keys=True))
    print(f"{len(digests)} inputs digested")
    if args.compare is None:
        return 0
    before = json.loads(args.compare.read_text())
    changed = sorted(name for name in before.keys() | digests.keys()
                     if before.get(name) != digests.get(name))
    print(f"{len(changed)} differ" + (": " + " ".join(changed) if changed else ""))
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
