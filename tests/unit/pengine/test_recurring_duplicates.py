"""Recurring monitors whose name and interval two operations share, against Pacemaker's graphs.

Golden values are the corpus .exp graphs Pacemaker 2.1.5 wrote: a resource configuring a
Promoted and an Unpromoted monitor of the same interval gets neither (is_op_dup), while its
other recurring monitors stay.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from lxml import etree

from pengine.api import schedule
from pengine.graph_xml import synapses, to_xml

CORPUS = "conformance/scheduler"
NOW = datetime.datetime(2022, 12, 8, tzinfo=datetime.UTC)


def _recurring(root: etree._Element) -> set[tuple[str, str]]:
    """(operation key, node) of every recurring monitor the graph schedules."""
    return {(op.get("operation_key", ""), op.get("on_node", ""))
            for op in root.iter("rsc_op")
            if op.get("operation") == "monitor" and op.get("operation_key", "")[-2:] != "_0"}


@pytest.mark.parametrize("name", ["promoted-notify", "bug-lf-2606",
                                  "promoted-asymmetrical-order"])
def test_duplicated_monitors_are_not_scheduled(shared: Path, name: str) -> None:
    transition = schedule((shared / CORPUS / f"xml/{name}.xml").read_bytes(), NOW)
    ours = etree.fromstring(to_xml(transition, synapses(transition)))
    expected = etree.parse(str(shared / CORPUS / f"exp/{name}.exp")).getroot()
    assert _recurring(ours) == _recurring(expected)
