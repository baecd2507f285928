"""crm_simulate as a process: exit codes, error lines, sections and artifacts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.oracle import pacemaker_tool

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples/cib-3node.xml"
CIBS = Path(__file__).resolve().parent / "cibs"


def crm_simulate(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pengine.cli", *args], cwd=REPO,
                          input=stdin.decode() if stdin else None, capture_output=True,
                          text=True, timeout=120, check=False)


def _engine() -> None:
    pytest.importorskip("pengine.scheduler", reason="the scheduling engine has not landed yet")


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_file_is_noinput(tmp_path: Path) -> None:
    result = crm_simulate("-x", str(tmp_path / "nope.xml"), "-S")
    assert result.returncode == 66
    assert str(tmp_path / "nope.xml") in _error_line(result)


def test_not_xml_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<cib>\n  <configuration>\n</cib>\n")
    result = crm_simulate("-x", str(bad), "-S")
    assert result.returncode == 78
    line = _error_line(result)
    assert f"{bad}:3" in line and "not well-formed" in line


def test_root_must_be_cib(tmp_path: Path) -> None:
    bad = tmp_path / "foo.xml"
    bad.write_text("<foo/>\n")
    result = crm_simulate("-x", str(bad))
    assert result.returncode == 78
    assert "<foo>" in _error_line(result)


def test_unknown_schema(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace('validate-with="pacemaker-3.7"',
                                       'validate-with="pacemaker-9.1"')
    bad = tmp_path / "schema.xml"
    bad.write_text(text)
    result = crm_simulate("-x", str(bad), "-S")
    assert result.returncode == 78
    line = _error_line(result)
    assert "pacemaker-9.1" in line and f"{bad}:1" in line


def test_dangling_reference_names_constraint_and_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace('with-rsc="service-ip"', 'with-rsc="no-such-ip"')
    bad = tmp_path / "dangling.xml"
    bad.write_text(text)
    wanted = next(n for n, line in enumerate(text.splitlines(), 1) if "no-such-ip" in line)
    result = crm_simulate("-x", str(bad), "-S")
    assert result.returncode == 78
    line = _error_line(result)
    assert f"{bad}:{wanted}" in line
    assert "rsc_colocation id='app-with-ip'" in line and "no-such-ip" in line


def _live(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """crm_simulate as installed: crmd.simulate gives pengine's -L the live CIB."""
    return subprocess.run([sys.executable, "-m", "crmd.simulate", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_live_check_without_cluster(tmp_path: Path) -> None:
    # Pacemaker 2.1.5 without a cluster: "crm_simulate: CIB query failed: Input file not
    # available", exit 66.
    env = {k: v for k, v in os.environ.items() if k != "CIB_file"}
    result = _live("-L", "-S", env={**env, "HACLUSTER_STATE_DIR": str(tmp_path)})
    assert result.returncode == 66
    assert "CIB query failed: Input file not available" in _error_line(result)


def test_live_check_reads_cib_file() -> None:
    # Pacemaker's -L honours CIB_file like its other tools: the same output as -x FILE.
    _engine()
    live = _live("-L", "-S", env={**os.environ, "CIB_file": str(EXAMPLE)})
    given = crm_simulate("-x", str(EXAMPLE), "-S")
    assert live.returncode == 0, live.stderr
    assert live.stdout == given.stdout


@pytest.mark.parametrize("args", [("--bogus",), ("-S",), ("-x", "a.xml", "-L"),
                                  ("-x", str(EXAMPLE), "-t", "yesterday-ish")])
def test_usage_errors(args: tuple[str, ...]) -> None:
    result = crm_simulate(*args)
    assert result.returncode == 64
    _error_line(result)


def _sections(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(" ")]


def test_simulate_prints_pacemakers_sections() -> None:
    _engine()
    result = crm_simulate("-x", str(EXAMPLE), "-S")
    assert result.returncode == 0, result.stderr
    assert _sections(result.stdout) == ["Current cluster status:", "Transition Summary:",
                                        "Executing Cluster Transition:",
                                        "Revised Cluster Status:"]
    revised = result.stdout.split("Revised Cluster Status:")[1]
    assert "Stopped" not in revised  # every resource was started


def test_run_only_and_quiet() -> None:
    _engine()
    result = crm_simulate("-x", str(EXAMPLE), "-R")
    assert _sections(result.stdout) == ["Current cluster status:", "Transition Summary:"]
    quiet = crm_simulate("-x", str(EXAMPLE), "-S", "-Q")
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_pipe_input_and_datetime() -> None:
    _engine()
    result = crm_simulate("-p", "-R", "-t", "2024-05-01T12:00:00Z", stdin=EXAMPLE.read_bytes())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == \
        "Setting effective cluster time: 2024-05-01T12:00:00Z"


def test_artifacts(tmp_path: Path) -> None:
    _engine()
    graph, dot, out = tmp_path / "g.xml", tmp_path / "g.dot", tmp_path / "out.xml"
    result = crm_simulate("-x", str(EXAMPLE), "-S", "-Q", "-G", str(graph), "-D", str(dot),
                          "-O", str(out))
    assert result.returncode == 0, result.stderr
    root = etree.parse(str(graph)).getroot()
    assert root.tag == "transition_graph"
    keys = {e.get("operation_key") for e in root.iterfind("synapse/action_set/*")}
    assert {"service-ip_start_0", "app_running_0", "app-data_monitor_20000"} <= keys
    assert dot.read_text().startswith(' digraph "g" {')
    assert '"service-ip_start_0 beta"' in dot.read_text() or \
        '"service-ip_start_0 alpha"' in dot.read_text()
    # the saved CIB records the started resources: running again needs no action
    again = crm_simulate("-x", str(out), "-R")
    assert again.returncode == 0, again.stderr
    summary = again.stdout.split("Transition Summary:")[1]
    assert summary.strip() == ""


def _pacemaker_crm_simulate() -> str:
    found = pacemaker_tool("crm_simulate")
    assert found is not None
    return found


def _pacemaker(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C")
    shadow = Path(os.environ.get("TMPDIR", "/tmp")) / f"hacluster-shadow-{os.getpid()}"
    shadow.mkdir(exist_ok=True)
    env["CIB_shadow_dir"] = str(shadow)
    return subprocess.run([_pacemaker_crm_simulate(), *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def _normalized(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


# Differences that come from the scheduling engine (reported to its author in
# /work/coord/pengine-output-files.md). strict: fixing one makes the run fail until the
# entry is removed here, so the list cannot go stale.
KNOWN_ENGINE_GAPS = {
}


def _oracle_param(cib: Path) -> object:
    reason = KNOWN_ENGINE_GAPS.get(cib.stem)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(cib, id=cib.stem, marks=marks)


ORACLE_INPUTS = [_oracle_param(p) for p in [EXAMPLE, *sorted(CIBS.glob("*.xml"))]]


@pytest.mark.oracle
@pytest.mark.parametrize("cib", ORACLE_INPUTS)
def test_same_output_as_pacemaker(cib: Path) -> None:
    """Whole `-S` output, whitespace-insensitive, against the installed crm_simulate."""
    if pacemaker_tool("crm_simulate") is None:
        pytest.skip("Pacemaker's crm_simulate is not installed")
    _engine()
    theirs = _pacemaker("-x", str(cib), "-S")
    assert theirs.returncode == 0, theirs.stderr
    ours = crm_simulate("-x", str(cib), "-S")
    assert ours.returncode == 0, ours.stderr
    assert _normalized(ours.stdout) == _normalized(theirs.stdout)


DOT_CASES = ["simple2", "rec-rsc-4", "order-optional", "quorum-4", "rec-node-1",
             "stopped-monitor-01"]


@pytest.mark.oracle
@pytest.mark.parametrize("name", DOT_CASES)
def test_dot_same_as_pacemaker(shared: Path, tmp_path: Path, name: str) -> None:
    """-D output, as a set of lines (node statements and edges), against crm_simulate -D."""
    if pacemaker_tool("crm_simulate") is None:
        pytest.skip("Pacemaker's crm_simulate is not installed")
    _engine()
    cib = shared / f"conformance/scheduler/xml/{name}.xml"
    theirs, ours = tmp_path / "theirs.dot", tmp_path / "ours.dot"
    assert _pacemaker("-x", str(cib), "-R", "-Q", "-D", str(theirs)).returncode == 0
    result = crm_simulate("-x", str(cib), "-R", "-Q", "-D", str(ours))
    assert result.returncode == 0, result.stderr
    assert sorted(ours.read_text().splitlines()) == sorted(theirs.read_text().splitlines())


def test_primitive_without_type_and_duplicate_ids(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    no_type = tmp_path / "no-type.xml"
    no_type.write_text(text.replace('provider="heartbeat" type="IPaddr2"', 'provider="heartbeat"'))
    wanted = next(n for n, line in enumerate(no_type.read_text().splitlines(), 1)
                  if 'id="service-ip" class' in line)
    result = crm_simulate("-x", str(no_type), "-S")
    assert result.returncode == 78
    line = _error_line(result)
    assert f"{no_type}:{wanted}" in line and "primitive id='service-ip'" in line and "type" in line
    duplicate = tmp_path / "dup.xml"
    duplicate.write_text(text.replace('<primitive id="app-daemon"', '<primitive id="app-data"'))
    result = crm_simulate("-x", str(duplicate))
    assert result.returncode == 78
    assert "'app-data' is already used" in _error_line(result)


def test_unwritable_artifact_is_cantcreat(tmp_path: Path) -> None:
    _engine()
    result = crm_simulate("-x", str(EXAMPLE), "-Q", "-G", str(tmp_path / "missing-dir/g.xml"))
    assert result.returncode == 73
    assert "cannot write" in _error_line(result)


def test_execution_date_lines_like_pacemaker(shared: Path) -> None:
    """The CIB's execution-date is announced at the top and again after the execution."""
    _engine()
    name = "allow-unhealthy-nodes"
    expected = (shared / f"conformance/scheduler/summary/{name}.summary").read_text()
    wanted = [line for line in expected.splitlines() if line.startswith("Using the original")]
    assert len(wanted) == 2
    result = crm_simulate("-x", str(shared / f"conformance/scheduler/xml/{name}.xml"), "-S")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == wanted[0]
    assert [line for line in lines if line.startswith("Using the original")] == wanted
    before_revised = lines[lines.index("Revised Cluster Status:") - 2]
    assert before_revised == wanted[1]


def test_show_scores_prints_score_lines(shared: Path) -> None:
    _engine()
    name = "simple2"
    cib = shared / f"conformance/scheduler/xml/{name}.xml"
    expected = (shared / f"conformance/scheduler/scores/{name}.scores").read_text()
    wanted = [line for line in expected.splitlines() if "allocation score" in line]
    result = crm_simulate("-x", str(cib), "-s", "-R")
    assert result.returncode == 0, result.stderr
    head = result.stdout.split("Transition Summary:")[0].splitlines()
    assert sorted(line for line in head if "allocation score" in line) == sorted(wanted)


@pytest.mark.parametrize(("case", "when"), [("date-1", "2005-020"), ("date-2", "2005-020T12:30"),
                                            ("origin", "2014-05-07 00:28:00")])
def test_set_datetime_takes_pacemakers_date_forms(case: str, when: str) -> None:
    # crm_time parses ordinal dates (YYYY-DDD) and a space before the time; Pacemaker's
    # corpus runs these cases with -t, and its summaries (made without -t) differ from
    # that output only by the "Setting effective cluster time" line.
    from pengine.conformance import DEFAULT_CORPUS

    _engine()
    xml = DEFAULT_CORPUS / "xml" / f"{case}.xml"
    if not xml.exists():
        pytest.skip("Pacemaker's scheduler corpus is not available")
    result = crm_simulate("-x", str(xml), "-S", "-t", when)
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines() if line.strip()]
    expected = [" ".join(line.split()) for line in
                (DEFAULT_CORPUS / "summary" / f"{case}.summary").read_text().splitlines()
                if line.strip()]
    assert lines == [f"Setting effective cluster time: {when}", *expected]
