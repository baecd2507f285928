"""`crm status`: crm_mon's one-shot view (with inactive resources, as crmsh shows it) and a
warning about move/ban constraints left behind, the most common surprise after a move.
"""

from __future__ import annotations

from lxml import etree


def leftover_moves(root: etree._Element) -> list[tuple[str, str]]:
    """(constraint id, resource) of cli-prefer-* / cli-ban-* constraints still configured."""
    return [(loc.get("id") or "", loc.get("rsc") or "")
            for loc in root.iterfind("configuration/constraints/rsc_location")
            if (loc.get("id") or "").startswith(("cli-prefer-", "cli-ban-"))]


def show_status(root: etree._Element, words: list[str]) -> str:
    from crmd.mon.cli import build_view
    from crmd.mon.text import Display, render

    view = build_view(root)
    if "xml" in words:
        from crmd.mon.xml_out import render_xml

        return render_xml(view, Display(), "crm status xml")
    display = Display(inactive=True, by_node="bynode" in words,
                      operations="ops" in words, timing="timing" in words,
                      failcounts="failcounts" in words)
    lines = render(view, display)
    leftovers = leftover_moves(root)
    if leftovers:
        resources = sorted({rsc for _, rsc in leftovers})
        lines += ["", f"WARNING: move/ban constraints are still in place: "
                  f"{', '.join(ident for ident, _ in leftovers)}",
                  "  (remove them with: " + "; ".join(f"crm resource clear {r}"
                                                     for r in resources) + ")"]
    return "\n".join(lines)
