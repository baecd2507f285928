"""crm_mon beside Pacemaker's: Debian's /usr/sbin/crm_mon and ours on every corpus CIB.

Both run with CIB_file on the same file; the text outputs are compared line by line.
`tests/conformance/crm_mon_passing.txt` is a ratchet of "<options> <case>" pairs that agree:
a listed pair that stops agreeing fails the test; HACLUSTER_WRITE_RATCHET=1 rewrites it.
The agreement table is printed (pytest -s).

Accepted differences (lines dropped or normalised before comparing):
- "Last updated:" is the wall clock at the moment each tool ran. ("Last change:" is
  compared: the CIB's cib-last-written text and its update-user/-client/-origin.)
- XML: the <pacemaker-result request=...> line (it quotes each tool's own argv) and
  <last_update> (wall clock).
- Under -A, attributes of one node are compared as a set: Pacemaker lists them in the order
  of a GLib hash table, which nothing outside that process can reproduce; we sort by name.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from crmd.cibaccess import ENV_VAR
from tests.oracle import pacemaker_tool

RATCHET = Path(__file__).with_name("crm_mon_passing.txt")
VARIANTS = ("-1", "-r", "-A", "-f", "-o", "-t", "-n", "-nr", "--output-as=xml")
SAMPLE_EVERY = 7  # the default run tries option variants on every 7th case only
CI_STRIDE = 6  # ... and of those (and of -1's) every 6th


def _cases(corpus: Path, variant: str, stride: int = 1) -> list[Path]:
    """The full run (stride 1) compares every corpus CIB under every option."""
    files = sorted(corpus.glob("*.xml"))
    if stride == 1:
        return files
    chosen = files if variant == "-1" else files[SAMPLE_EVERY - 1::SAMPLE_EVERY]
    return chosen[::stride]


def _normalise(lines: list[str]) -> list[str]:
    kept = [line for line in lines
            if not line.startswith(("  * Last updated:", "    <last_update ",
                                    "<pacemaker-result "))]
    out: list[str] = []
    block: list[str] = []
    for line in kept:  # sort each node's attribute lines (hash-table order upstream)
        if line.startswith("    * ") and "\t: " in line:
            block.append(line)
            continue
        out += sorted(block)
        block = []
        out.append(line)
    return out + sorted(block)


def _theirs(tool: str, cib: Path, variant: str) -> list[str]:
    args = [tool, "-1"] + ([] if variant == "-1" else [variant])
    result = subprocess.run(args, env={**os.environ, ENV_VAR: str(cib)},
                            capture_output=True, text=True, timeout=60, check=False)
    return result.stdout.rstrip("\n").split("\n")


def _ours(cib: Path, variant: str) -> list[str]:
    from crmd.mon.cli import gather
    from crmd.mon.text import Display, render

    flags = variant.lstrip("-")
    if variant == "--output-as=xml":
        from crmd.mon.xml_out import render_xml

        os.environ[ENV_VAR] = str(cib)
        try:
            return render_xml(gather(), Display(), "crm_mon").split("\n")
        finally:
            del os.environ[ENV_VAR]
    display = Display(inactive="r" in flags, attributes="A" in flags,
                      failcounts="f" in flags, operations="o" in flags,
                      timing="t" in flags, by_node="n" in flags)
    os.environ[ENV_VAR] = str(cib)
    try:
        return render(gather(), display)
    finally:
        del os.environ[ENV_VAR]


@pytest.mark.oracle
@pytest.mark.timeout(3600)  # about 5,200 runs of each tool; a quarter hour on a busy host
@pytest.mark.parametrize("stride", [
    pytest.param(1, id="full", marks=pytest.mark.slow),
    pytest.param(CI_STRIDE, id="slice"),
])
def test_crm_mon_agrees_with_pacemaker(shared: Path, stride: int) -> None:
    tool = pacemaker_tool("crm_mon")
    if tool is None:
        pytest.skip("Debian's crm_mon (pacemaker-cli-utils) is not installed")
    corpus = shared / "conformance" / "scheduler" / "xml"
    if not corpus.is_dir():
        pytest.skip("scheduler corpus not present")
    passing: set[str] = set()
    table = []
    for variant in VARIANTS:
        cases = _cases(corpus, variant, stride)
        agreed = [c.stem for c in cases
                  if _normalise(_ours(c, variant)) == _normalise(_theirs(tool, c, variant))]
        passing |= {f"{variant} {name}" for name in agreed}
        table.append(f"crm_mon {variant:<4} {len(agreed):>4}/{len(cases):<4}")
    print("\n".join(["", "crm_mon agreement with Pacemaker 2.1.5:", *table]))
    if os.environ.get("HACLUSTER_WRITE_RATCHET") and stride == 1:
        RATCHET.write_text("".join(f"{entry}\n" for entry in sorted(passing)))
    tried = {f"{variant} {case.stem}" for variant in VARIANTS
             for case in _cases(corpus, variant, stride)}
    listed = {line.strip() for line in RATCHET.read_text().splitlines()
              if line.strip() in tried}
    lost = sorted(listed - passing)
    assert not lost, f"crm_mon cases that used to agree now differ: {lost}"


@pytest.mark.oracle
@pytest.mark.parametrize("variant", ["-1", "--output-as=xml"])
def test_last_change_names_user_client_and_origin(tmp_path: Path, variant: str) -> None:
    """A CIB the cib daemon stamped: "Last change: <time> by <user> via <client> on <node>"."""
    tool = pacemaker_tool("crm_mon")
    if tool is None:
        pytest.skip("Debian's crm_mon (pacemaker-cli-utils) is not installed")
    example = Path(__file__).resolve().parents[2] / "examples" / "cib-3node.xml"
    text = example.read_text().replace(
        "<cib ", '<cib cib-last-written="Fri Jul 13 13:51:03 2012" update-user="root" '
        'update-client="cibadmin" update-origin="alpha" ', 1)
    cib = tmp_path / "cib.xml"
    cib.write_text(text)
    ours = [line for line in _ours(cib, variant) if "ast_change" in line or "Last change" in line]
    theirs = [line for line in _theirs(tool, cib, variant)
              if "ast_change" in line or "Last change" in line]
    assert ours == theirs and "root" in theirs[0] and "alpha" in theirs[0]
