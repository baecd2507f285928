"""Differential test: Debian's cibadmin and ours on copies of the same CIB files.

Operation by operation (a seeded generator over corpus CIBs and generated ones) both tools
run with CIB_file on their own copy; the exit code, what they print on stdout and the file
afterwards must be identical. What we normalise: nothing in the output (file mode writes no
cib-last-written); stderr is not compared (our messages add detail). Accepted differences
are listed in ACCEPTED with their reason; the agreement table is printed (-s).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from tests.oracle import pacemaker_tool
from tests.unit.cib.cibadmin_cases import next_case

DEBIAN = pacemaker_tool("cibadmin")
CRM_DIFF = pacemaker_tool("crm_diff")
CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "scheduler" / "xml"
pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(DEBIAN is None or CRM_DIFF is None,
                       reason="Debian's cibadmin/crm_diff (pacemaker-cli-utils) not installed"),
]
OPS_PER_FILE = int(os.environ.get("CIB_ORACLE_OPS", "12"))
FILES = int(os.environ.get("CIB_ORACLE_FILES", "24"))
TALLY: Counter[str] = Counter()

GENERATED = [
    '<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="5" num_updates="2" '
    'admin_epoch="0"><configuration><crm_config><cluster_property_set '
    'id="cib-bootstrap-options"><nvpair id="o1" name="stonith-enabled" value="false"/>'
    '</cluster_property_set></crm_config><nodes><node id="1" uname="n1"/><node id="2" '
    'uname="n2"/></nodes><resources><primitive id="d1" class="ocf" provider="pacemaker" '
    'type="Dummy"><meta_attributes id="d1-meta"><nvpair id="d1-meta-target-role" '
    'name="target-role" value="Started"/></meta_attributes><operations><op id="d1-mon" '
    'name="monitor" interval="10s"/></operations></primitive><group id="g"><primitive '
    'id="g1" class="ocf" provider="pacemaker" type="Dummy"/><primitive id="g2" class="ocf" '
    'provider="pacemaker" type="Dummy"/></group></resources><constraints><rsc_location '
    'id="l1" rsc="d1" node="n1" score="INFINITY"/></constraints></configuration><status>'
    '<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" '
    'expected="member"/></status></cib>',
]


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = sorted(CORPUS.glob("*.xml"))
    return random.Random(9).sample(files, min(FILES, len(files)))


def _debian(path: Path, args: list[str]) -> tuple[int, str]:
    env = {**os.environ, "CIB_file": str(path), "PATH": "/usr/sbin:/usr/bin:/bin"}
    done = subprocess.run([DEBIAN or "", *args], env=env, capture_output=True, timeout=60,
                          check=False)
    return done.returncode, done.stdout.decode(errors="replace")


def _ours(path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    from cib.cli import main

    monkeypatch.setenv("CIB_file", str(path))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as leaving:
            code = int(leaving.code or 0)
    return code, out.getvalue()


def _extra_cases(rng: random.Random, theirs: Path, work: Path) -> list[list[str]]:
    """Cases needing a file: a crm_diff patch, a whole replace, digests of the CIB."""
    cases: list[list[str]] = []
    scratch = work / "scratch.xml"
    shutil.copy(theirs, scratch)
    changed = _debian(scratch, ["-M", "-X", '<cib admin_epoch="admin_epoch++"/>'])[0] == 0
    if changed:
        _debian(scratch, ["-C", "-o", "resources", "-X",
                          f'<primitive id="p{rng.randrange(99)}" class="ocf" '
                          'provider="pacemaker" type="Dummy"/>'])
        flag = ["-u"] if rng.random() < 0.5 else []
        patch = subprocess.run([CRM_DIFF or "", "-o", str(theirs), "-n", str(scratch), *flag],
                               capture_output=True, check=False).stdout
        (work / "patch.xml").write_bytes(patch)
        cases.append(["-P", "-x", str(work / "patch.xml")])
    whole = etree.parse(str(theirs)).getroot()
    whole.set("epoch", str(int(whole.get("epoch", "0")) + rng.choice([-1, 0, 1])))
    (work / "whole.xml").write_bytes(etree.tostring(whole))
    cases.append(["-R", "-x", str(work / "whole.xml")])
    cases.append([rng.choice(["-5", "-6"]), "-x", str(theirs)])
    return cases


# Accepted differences, each with its reason: (name, reason). None are left: format-1
# patches (crm_diff's output for old feature sets) were the last, until cib.patch_v1.
ACCEPTED: list[tuple[str, str]] = []


def _accepted(args: list[str]) -> str | None:
    """The name of the accepted difference this command line falls under, if any."""
    return None


def _compare(theirs: Path, ours: Path, args: list[str],
             monkeypatch: pytest.MonkeyPatch) -> str | None:
    their_code, their_out = _debian(theirs, args)
    our_code, our_out = _ours(ours, args, monkeypatch)
    problems = []
    if their_code != our_code:
        problems.append(f"exit {their_code} vs ours {our_code}")
    if their_out != our_out:
        problems.append(f"stdout differs:\n--- debian\n{their_out[:1500]}\n--- ours\n"
                        f"{our_out[:1500]}")
    if theirs.read_bytes() != ours.read_bytes():
        problems.append("file afterwards differs")
    return "; ".join(problems) if problems else None


def _sources() -> list[tuple[str, bytes]]:
    items = [(f"generated-{index}", text.encode()) for index, text in enumerate(GENERATED)]
    items += [(path.name, path.read_bytes()) for path in _corpus_files()]
    return items


@pytest.mark.parametrize(("name", "text"), _sources(), ids=lambda value: str(value)[:30])
def test_cibadmin_matches_pacemaker(name: str, text: bytes, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    theirs, ours = tmp_path / "theirs.xml", tmp_path / "ours.xml"
    theirs.write_bytes(text)
    ours.write_bytes(text)
    rng = random.Random(name)
    failures = []
    for step in range(OPS_PER_FILE):
        if rng.random() < 0.3:  # a pristine file shows whether a command rewrites it
            theirs.write_bytes(text)
            ours.write_bytes(text)
        cib = etree.fromstring(theirs.read_bytes(), etree.XMLParser(recover=True))
        cases = [next_case(rng, cib)] if step % 4 else _extra_cases(rng, theirs, tmp_path)
        for args in cases:
            problem = _compare(theirs, ours, args, monkeypatch)
            TALLY["tried"] += 1
            if problem is None:
                TALLY["identical"] += 1
                continue
            if _accepted(args) is not None:
                TALLY["accepted differences"] += 1
                shutil.copy(theirs, ours)
                continue
            TALLY["disagreements"] += 1
            failures.append(f"{name} step {step}: cibadmin {' '.join(args)}: {problem}")
            shutil.copy(theirs, ours)  # continue from Pacemaker's state
    assert not failures, "\n".join(failures)


def teardown_module() -> None:
    print(f"\ncibadmin agreement: {dict(TALLY)}")


def _old_schema_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return [path for path in sorted(CORPUS.glob("*.xml"))
            if b'validate-with="pacemaker-1.' in path.read_bytes()[:600]
            or b'validate-with="pacemaker-2.' in path.read_bytes()[:600]]


@pytest.mark.parametrize("path", _old_schema_files(), ids=lambda path: path.name)
def test_upgrade_matches_pacemaker(path: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--upgrade across schema versions (with Pacemaker's XSLT where it applies)."""
    theirs, ours = tmp_path / "theirs.xml", tmp_path / "ours.xml"
    theirs.write_bytes(path.read_bytes())
    ours.write_bytes(path.read_bytes())
    assert _compare(theirs, ours, ["-u", "--force"], monkeypatch) is None


_POSITIONS = ["abc", "", "1x", "+1", "-1", "-5", "99999999999"]


@pytest.mark.parametrize("position", _POSITIONS)
@pytest.mark.parametrize("operation", ["create", "move"])
def test_patch_with_a_malformed_position_matches_pacemaker(
        operation: str, position: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--patch whose change has an odd `position`: exit code, output and file as Debian's."""
    resources = "/cib/configuration/resources"
    change = (f'<change operation="create" path="{resources}" position="{position}">'
              '<primitive id="p9" class="ocf" provider="pacemaker" type="Dummy"/></change>'
              if operation == "create" else
              f'<change operation="move" path="{resources}/group[@id=\'g\']" '
              f'position="{position}"/>')
    (tmp_path / "patch.xml").write_text(
        '<diff format="2"><version><source admin_epoch="0" epoch="5" num_updates="2"/>'
        f'<target admin_epoch="0" epoch="6" num_updates="0"/></version>{change}</diff>')
    theirs, ours = tmp_path / "theirs.xml", tmp_path / "ours.xml"
    theirs.write_text(GENERATED[0])
    ours.write_text(GENERATED[0])
    args = ["-P", "-x", str(tmp_path / "patch.xml")]
    assert _compare(theirs, ours, args, monkeypatch) is None


@pytest.mark.parametrize("position", ["0", "1", "5", "abc"])
@pytest.mark.parametrize("target", ["group[@id='g']/primitive[@id='g2']",
                                    "group[@id='g']/primitive", "comment"])
def test_patch_deleting_at_a_position_matches_pacemaker(
        target: str, position: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A delete's position picks among comments only (an element: the first match)."""
    (tmp_path / "patch.xml").write_text(
        '<diff format="2"><version><source admin_epoch="0" epoch="5" num_updates="2"/>'
        '<target admin_epoch="0" epoch="6" num_updates="0"/></version><change '
        f'operation="delete" path="/cib/configuration/resources/{target}" '
        f'position="{position}"/></diff>')
    text = GENERATED[0].replace("<resources>", "<resources><!-- note -->")
    theirs, ours = tmp_path / "theirs.xml", tmp_path / "ours.xml"
    theirs.write_text(text)
    ours.write_text(text)
    args = ["-P", "-x", str(tmp_path / "patch.xml")]
    assert _compare(theirs, ours, args, monkeypatch) is None
