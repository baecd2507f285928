"""Differential probes of the operator tools: seeded command lines run by ours and Pacemaker's.

`commands(seed)` draws a CIB from `tests.differential.generate` and a handful of command lines
for crm_resource, crm_attribute, crm_mon and cibadmin over that CIB's ids: valid ones, and bad
ones (unknown resource/node, missing values, malformed XML, conflicting options). The same seed
always gives the same CIB and the same commands.

`probe(tool, args, xml)` runs Debian's tool and ours (the virtualenv's console script of the
same name) with CIB_file on their own copies of the CIB and returns both outcomes, each as
(exit code, normalised stdout, stderr gist, resulting CIB printed by Debian's cibadmin).

Accepted differences (normalised away):
- timestamps (YYYY-MM-DD HH:MM:SS[Z], cib-last-written, crm_mon's "Last updated"/<last_update>)
  and the <pacemaker-result request=...> line, which quotes each tool's own argv;
- stderr's wording: only whether the tool complained (non-empty stderr) is compared; the
  same for an XML result's <error> lines (the wording of its <status> is compared);
- a command Pacemaker's tool crashed on (signal) is not compared;
- under crm_mon -A, attribute lines of a node are compared as a set (GLib hash order).
Run `python -m tests.differential.probe_cli FIRST LAST [--wide]` for the per-tool agreement
table and the disagreements with their seeds; --wide draws `wide_commands(seed)` (the options
of tests/differential/probe_wide.py, from a random stream of their own) instead.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from tests.differential.generate import generate
from tests.differential.probe_wide import (
    wide_cibadmin,
    wide_crm_attribute,
    wide_crm_mon,
    wide_crm_resource,
)
from tests.oracle import pacemaker_tool

CIB_ENV = "CIB_file"
TOOLS = ("crm_resource", "crm_attribute", "crm_mon", "cibadmin")
_STAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:Z|[+-]\d\d:?\d\d)?")
_WRITTEN = re.compile(r' (cib-last-written|update-client|update-user|update-origin)="[^"]*"')
_DROP = ("  * Last updated:", "    <last_update ", "<pacemaker-result ", "      <error>")


@dataclass(frozen=True)
class Outcome:
    """What one tool did: exit code, normalised stdout, whether it complained, resulting CIB."""

    code: int
    stdout: str
    complained: bool
    cib: str


@dataclass(frozen=True)
class Ids:
    """The names a command line may refer to, read from the generated CIB."""

    resources: list[str]
    primitives: list[str]
    nodes: list[str]
    node_attrs: list[tuple[str, str]]
    options: list[str]


def _ids(xml: str) -> Ids:
    root = ElementTree.fromstring(xml)
    resources = [e.get("id", "") for tag in ("primitive", "group", "clone", "bundle")
                 for e in root.iter(tag) if e.get("id")]
    primitives = [e.get("id", "") for e in root.iter("primitive")]
    nodes = [e.get("uname", "") for e in root.iter("node") if e.get("uname")]
    node_attrs = [(n.get("uname", ""), p.get("name", "")) for n in root.iter("node")
                  for s in n.iter("instance_attributes") for p in s.iter("nvpair")]
    options = [p.get("name", "") for s in root.iter("cluster_property_set")
               for p in s.iter("nvpair")]
    return Ids(resources, primitives, nodes, node_attrs, options)


def _crm_resource(rng: random.Random, ids: Ids) -> list[str]:
    rsc = rng.choice([*ids.resources, "nosuch"] if rng.random() < 0.2 else ids.resources)
    prim = rng.choice(ids.primitives)
    node = rng.choice([*ids.nodes, "ghost"] if rng.random() < 0.2 else ids.nodes)
    life = ["--lifetime", rng.choice(("PT1H", "P1D", "bogus"))] if rng.random() < 0.3 else []
    scope = rng.choice(([], [], ["--meta"], ["--utilization"]))
    name = rng.choice(("foo", "target-role", "is-managed", "cpu", "fake"))
    return rng.choice((
        ["--list"], ["--list-raw"], ["--locate", "-r", rsc], ["--locate"],
        ["--why", "-r", rsc], ["--why", "-r", rsc, "-N", node], ["--constraints", "-r", rsc],
        ["--move", "-r", rsc, "-N", node, *life], ["--move", "-r", rsc, *life],
        ["--ban", "-r", rsc, "-N", node, *life], ["--ban", "-r", rsc, *life],
        ["--clear", "-r", rsc], ["--clear", "-r", rsc, "-N", node], ["--clear"],
        ["-r", prim, *scope, "-p", name, "-v", "v1"], ["-r", prim, *scope, "-p", name],
        ["-r", prim, *scope, "-g", name], ["-r", prim, *scope, "-d", name],
        ["-r", rsc, "-g"], ["--move", "--ban", "-r", rsc], ["-r", rsc, "--cleanup", "-N", node],
        ["--bogus-option"],
    ))


def _crm_attribute(rng: random.Random, ids: Ids) -> list[str]:
    node = rng.choice([*ids.nodes, "ghost"] if rng.random() < 0.2 else ids.nodes)
    pairs = ids.node_attrs or [(node, "rack")]
    attr_node, attr = rng.choice(pairs)
    option = rng.choice([*ids.options, "no-such-option", "cluster-name"])
    life = rng.choice(([], ["-l", "reboot"], ["-l", "forever"], ["-t", "status"],
                       ["-t", "nodes"], ["-t", "crm_config"], ["-l", "bogus"]))
    bad_name = rng.choice(("", "with space", "a<b"))
    return rng.choice((
        ["-N", attr_node, "-n", attr, "--query"], ["-N", attr_node, "-n", attr, "-G", *life],
        ["-N", node, "-n", "newattr", "-v", "7", *life], ["-N", node, "-n", attr, "-D", *life],
        ["-n", option, "--query"], ["-n", option, "-G", "-q"], ["-n", option, "-v", "x"],
        ["-n", option, "-D"], ["-n", option, "-G", "--default", "dflt"],
        ["-n", bad_name, "-v", "1"], ["-G"], ["-N", node, "-G", "-n", attr, "-l", "reboot"],
        ["-n", option, "-v", "1", "-D"], ["-n", option, "-v"],
        ["-N", node, "-n", "probe", "-v", "1", "-l", "reboot"],
    ))


def _crm_mon(rng: random.Random, ids: Ids) -> list[str]:
    extra = rng.choice(([], ["-r"], ["-n"], ["-nr"], ["--include=all"],
                        ["--exclude=nodes"], ["--include=bogus"], ["--exclude=resources"],
                        ["--include=none", "--include=nodes"]))
    return ["-1", *extra] if rng.random() < 0.7 else ["-1", "--output-as=xml", *extra]


def _cibadmin(rng: random.Random, ids: Ids) -> list[str]:
    rsc = rng.choice(ids.primitives)
    section = rng.choice(("nodes", "resources", "constraints", "crm_config", "status", "bogus"))
    good = f'<primitive id="{rsc}" class="ocf" provider="pacemaker" type="Dummy"/>'
    new = '<primitive id="probe-new" class="ocf" provider="pacemaker" type="Dummy"/>'
    bad = rng.choice(('<primitive id="x"', "not xml", '<primitive id="probe-x"/>', ""))
    return rng.choice((
        ["-Q"], ["-Q", "-o", section], ["-Q", "--xpath", f"//primitive[@id='{rsc}']"],
        ["-Q", "--xpath", "//nosuch"], ["-Q", "--xpath", "//["],
        ["-C", "-o", "resources", "-X", new], ["-C", "-o", "resources", "-X", good],
        ["-C", "-o", "resources", "-X", bad], ["-M", "-X", good], ["-M", "-X", bad],
        ["-R", "-o", "resources", "-X", good], ["-R", "-X", bad],
        ["-D", "-X", f'<primitive id="{rsc}"/>'], ["-D", "-X", '<primitive id="nosuch"/>'],
        ["-D", "--xpath", f"//primitive[@id='{rsc}']"], ["-E"], ["-C"], ["-Q", "-M"],
        ["-C", "-o", "bogus", "-X", new], ["-X", new],
    ))


_DRAW = {"crm_resource": _crm_resource, "crm_attribute": _crm_attribute,
         "crm_mon": _crm_mon, "cibadmin": _cibadmin}
_WIDE = {"crm_resource": wide_crm_resource, "crm_attribute": wide_crm_attribute,
         "crm_mon": wide_crm_mon, "cibadmin": wide_cibadmin}


def commands(seed: int, per_tool: int = 3) -> tuple[str, list[tuple[str, list[str]]]]:
    """The seed's CIB and `per_tool` command lines for each tool."""
    xml = generate(seed).xml
    ids = _ids(xml)
    rng = random.Random(seed * 7919 + 17)
    return xml, [(tool, _DRAW[tool](rng, ids)) for tool in TOOLS for _ in range(per_tool)]


def wide_commands(seed: int, per_tool: int = 2) -> tuple[str, list[tuple[str, list[str]]]]:
    """The seed's CIB and `per_tool` command lines of the wider options (probe_wide), drawn
    from their own random stream so that `commands(seed)` stays what earlier surveys ran."""
    xml = generate(seed).xml
    ids = _ids(xml)
    rng = random.Random(seed * 104729 + 31)
    return xml, [(tool, _WIDE[tool](rng, ids, xml)) for tool in TOOLS
                 for _ in range(per_tool)]


def _normalise(text: str) -> str:
    lines = [_WRITTEN.sub("", _STAMP.sub("<time>", line)) for line in text.split("\n")
             if not line.startswith(_DROP)]
    out: list[str] = []
    block: list[str] = []
    for line in lines:  # crm_mon -A: a node's attributes come in GLib hash order upstream
        if line.startswith("    * ") and "\t: " in line:
            block.append(line)
            continue
        out += [*sorted(block), line]
        block = []
    return "\n".join(out + sorted(block))


def _ours(tool: str) -> str:
    return str(Path(sys.executable).parent / tool)


def _run(argv: list[str], cib: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, CIB_ENV: str(cib)}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def _outcome(argv: list[str], xml: str, workdir: Path, cibadmin: str) -> Outcome:
    cib = workdir / "cib.xml"
    cib.write_text(xml)
    done = _run(argv, cib)
    after = _run([cibadmin, "-Q"], cib).stdout
    return Outcome(done.returncode, _normalise(done.stdout), bool(done.stderr.strip()),
                   _normalise(after))


def probe(tool: str, args: list[str], xml: str,
          ours_bin: str | None = None) -> tuple[Outcome, Outcome]:
    """(theirs, ours) for one command line on copies of the same CIB (`ours_bin`: where
    our tool is, default the virtualenv's console scripts)."""
    theirs_tool, cibadmin = pacemaker_tool(tool), pacemaker_tool("cibadmin")
    assert theirs_tool is not None and cibadmin is not None
    with tempfile.TemporaryDirectory(prefix="probe-") as tmp:
        theirs_dir, ours_dir = Path(tmp, "theirs"), Path(tmp, "ours")
        theirs_dir.mkdir()
        ours_dir.mkdir()
        theirs = _outcome([theirs_tool, *args], xml, theirs_dir, cibadmin)
        mine = str(Path(ours_bin, tool)) if ours_bin else _ours(tool)
        ours = _outcome([mine, *args], xml, ours_dir, cibadmin)
    return theirs, ours


def differences(theirs: Outcome, ours: Outcome) -> list[str]:
    """Which aspects differ: code, stdout, stderr, cib (none when Pacemaker's tool crashed)."""
    if theirs.code < 0 or theirs.code >= 128:  # 2.1.5's --cleanup on a file dies of SIGSEGV
        return []
    return [name for name, a, b in (
        ("code", theirs.code, ours.code), ("stdout", theirs.stdout, ours.stdout),
        ("stderr", theirs.complained, ours.complained), ("cib", theirs.cib, ours.cib))
        if a != b]


def main(argv: list[str] | None = None) -> int:
    """Probe seeds FIRST..LAST (with --wide: the wider command lines of probe_wide); print
    the agreement table and each disagreement."""
    args = sys.argv[1:] if argv is None else argv
    first, last = int(args[0]), int(args[1])
    draw = wide_commands if "--wide" in args[2:] else commands
    if shutil.which("cibadmin", path="/usr/sbin") is None:
        print("Debian's Pacemaker tools are not installed", file=sys.stderr)
        return 69
    agreed: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    for seed in range(first, last + 1):
        xml, lines = draw(seed)
        for tool, cmd in lines:
            theirs, ours = probe(tool, cmd, xml)
            tried[tool] += 1
            diff = differences(theirs, ours)
            if not diff:
                agreed[tool] += 1
                continue
            print(f"DIFF seed={seed} {tool} {' '.join(cmd)!r} {','.join(diff)} "
                  f"rc theirs={theirs.code} ours={ours.code}", flush=True)
    for tool in TOOLS:
        print(f"{tool:<14} {agreed[tool]:>4}/{tried[tool]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
