"""`crm configure show` output loads back to the same configuration, for every corpus CIB.

For each of Pacemaker's 574 scheduler CIBs: render the configuration in crmsh syntax, run
`load replace` of that text on the same CIB, and compare every object (nodes, resources,
constraints, property and defaults sets) with the original.

"The same" (crmd.shell.render.canonical): attribute order is free, and so are the ids that
crmsh's syntax never shows (nvpairs, attribute sets, ops, rules, expressions: crmsh
regenerates them on load too); so is where a set sits among a resource's children, while
group members keep their order. Objects the syntax cannot carry exactly are shown as
`xml <...>`, as crmsh does; the share of those is printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

SECTIONS = ("nodes", "resources", "constraints", "crm_config", "rsc_defaults", "op_defaults")


def _objects(configuration: etree._Element) -> dict[tuple[str, str], object]:
    from crmd.shell.render import canonical

    found: dict[tuple[str, str], object] = {}
    for name in SECTIONS:
        section = configuration.find(name)
        for element in [] if section is None else section:
            if isinstance(element.tag, str):
                found[(name, element.get("id") or "")] = canonical(element)
    return found


def test_show_then_load_gives_the_same_configuration(shared: Path) -> None:
    from cib.xmlio import parse
    from crmd.shell.edits import load
    from crmd.shell.render import show

    corpus = shared / "conformance" / "scheduler" / "xml"
    if not corpus.is_dir():
        pytest.skip("scheduler corpus not present")
    failed, native, as_xml = [], 0, 0
    files = sorted(corpus.glob("*.xml"))
    for path in files:
        root = parse(path.read_bytes(), str(path))
        configuration = root.find("configuration")
        assert configuration is not None
        text = show(configuration)
        heads = [line for line in text.split("\n") if line and not line.startswith("\t")]
        as_xml += sum(1 for line in heads if line.startswith("xml "))
        native += sum(1 for line in heads if not line.startswith("xml "))
        reloaded = load(root, text, replace=True).find("configuration")
        assert reloaded is not None
        if _objects(reloaded) != _objects(configuration):
            failed.append(path.stem)
    print(f"\nconfigure show round trip: {len(files) - len(failed)}/{len(files)} CIBs; "
          f"{native} objects in crmsh syntax, {as_xml} as xml")
    assert not failed, f"show output did not load back to the same CIB: {failed}"
