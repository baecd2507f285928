"""crm_simulate on every corpus input: no crash, all sections, a well-formed graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from pengine.cli import crm_simulate

SECTIONS = ["Current cluster status:", "Transition Summary:", "Executing Cluster Transition:",
            "Revised Cluster Status:"]


@pytest.mark.slow
def test_every_corpus_input_simulates(shared: Path, tmp_path: Path) -> None:
    pytest.importorskip("pengine.scheduler", reason="the scheduling engine has not landed yet")
    inputs = sorted((shared / "conformance/scheduler/xml").glob("*.xml"))
    assert len(inputs) > 500
    runner = CliRunner()
    graph, dot = tmp_path / "g.xml", tmp_path / "g.dot"
    broken = []
    for path in inputs:
        result = runner.invoke(crm_simulate, ["-x", str(path), "-S", "-G", str(graph),
                                              "-D", str(dot)])
        headers = [line for line in result.output.splitlines() if line in SECTIONS]
        ok = result.exit_code == 0 and headers == SECTIONS
        if ok:
            root = etree.parse(str(graph)).getroot()
            ok = root.tag == "transition_graph" and dot.read_text().endswith("}\n")
        if not ok:
            broken.append(path.stem)
    assert broken == []
