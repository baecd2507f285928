"""Whole transition graphs of made-up CIBs against the graph Debian's Pacemaker wrote.

tests/differential/graph_cases/NAME.xml is a made-up CIB and NAME.graph the graph Debian's
crm_simulate 2.1.5 wrote for it (`crm_simulate -x NAME.xml -S -G NAME.graph`). Our graph
(what `crm_simulate -S -G` writes) must have the same synapses, compared as
tests.differential.probe_graph compares them: everything but synapse and action ids.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.differential.probe_graph import differences, our_graph

HERE = Path(__file__).with_name("graph_cases")
CASES = sorted(HERE.glob("*.xml"))


@pytest.mark.parametrize("cib", CASES, ids=[case.stem for case in CASES])
def test_graph_has_pacemakers_synapses(cib: Path) -> None:
    theirs = etree.parse(str(cib.with_suffix(".graph"))).getroot()
    assert theirs.find("synapse") is not None
    assert differences(theirs, our_graph(cib.read_text())) == []
