"""The wider command lines of the operator-tool probes (tests/differential/probe_cli).

Options the first generator did not reach: cibadmin -P/--patch with format-2 diffs (valid,
stale, pointing nowhere, malformed), -B/-u/-5, every -o scope; crm_attribute on rsc_defaults
and op_defaults, -p/--promotion, -G -q of missing names, -i/-s; crm_resource --why,
--constraints (-A), --list-operations, --query-xml; crm_mon's text and XML sections. Each
`wide_*` function draws one command line from `rng` over the CIB's ids (pure: same rng state,
same command line).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING
from xml.etree import ElementTree

if TYPE_CHECKING:
    from tests.differential.probe_cli import Ids

_SCOPES = ("configuration", "nodes", "resources", "constraints", "crm_config", "status",
           "rsc_defaults", "op_defaults", "acls", "tags", "alerts", "fencing-topology", "cib",
           "bogus")


def wide_crm_resource(rng: random.Random, ids: Ids, xml: str) -> list[str]:
    """--why/--constraints/--list-operations/--query-xml over real and unknown ids."""
    rsc = rng.choice([*ids.resources, "nosuch"] if rng.random() < 0.15 else ids.resources)
    node = rng.choice([*ids.nodes, "ghost"] if rng.random() < 0.15 else ids.nodes)
    return rng.choice((
        ["--why"], ["--why", "-N", node], ["--why", "-r", rsc, "-N", node],
        ["--constraints", "-r", rsc], ["-A", "-r", rsc], ["-a", "-r", rsc],
        ["--constraints", "-r", rsc, "--output-as=xml"], ["--constraints"],
        ["--list-operations"], ["--list-operations", "-r", rsc], ["-O", "-r", rsc],
        ["--list-operations", "-N", node], ["-q", "-r", rsc], ["-w", "-r", rsc],
        ["--locate", "-r", rsc, "-Q"], ["--locate", "-r", rsc, "--output-as=xml"],
        ["--list", "--output-as=xml"], ["-r", rsc, "--meta", "-g", "target-role", "-Q"],
    ))


def wide_crm_attribute(rng: random.Random, ids: Ids, xml: str) -> list[str]:
    """rsc/op defaults, promotion scores, quiet queries of names nobody set, -i/-s."""
    node = rng.choice(ids.nodes)
    prim = rng.choice(ids.primitives)
    kind = rng.choice(("rsc_defaults", "op_defaults"))
    name = rng.choice(("resource-stickiness", "timeout", "migration-threshold", "nosuch"))
    life = rng.choice(([], ["-l", "reboot"], ["-l", "forever"]))
    return rng.choice((
        ["-t", kind, "-N", node, "-n", name, "-v", "5"], ["-t", kind, "-N", node, "-n", name,
                                                          "-G", "-q"],
        ["-t", kind, "-N", node, "-n", name, "-D"], ["-t", kind, "-n", name, "-G"],
        ["-p", prim, "-N", node, "-v", "10", *life], ["-p", prim, "-N", node, "-G", *life],
        ["-p", prim, "-N", node, "-D", *life], ["-p", "-N", node, "-G"],
        [f"--promotion={prim}", "-N", node, "-G", "-q"],
        ["-n", "nosuch", "-G", "-q"], ["-N", node, "-n", "nosuch", "-G", "-q"],
        ["-N", node, "-n", "nosuch", "-l", "reboot", "-G", "-q"],
        ["-N", node, "-s", "probe-set", "-n", "x", "-v", "1"],
        ["-N", node, "-i", "probe-id", "-n", "x", "-v", "1"], ["-i", "nosuch-id", "-G"],
    ))


def wide_crm_mon(rng: random.Random, ids: Ids, xml: str) -> list[str]:
    """One-shot text and XML with the section switches."""
    extra = rng.choice((["-A"], ["-f"], ["-o"], ["-L"], ["-t"], ["-c"], ["-R"], ["-b"],
                        ["-j"], ["--group-by-node"], ["-A", "-f", "-o"], ["-n", "-A"],
                        ["--include=attributes"], ["--include=failcounts"],
                        ["--include=operations"], ["--include=bans"], ["--include=tickets"],
                        ["--include=options"], ["--include=summary"], ["--exclude=all"],
                        ["--include=fencing"], ["--exclude=summary", "--include=bans"]))
    return ["-1", *extra] if rng.random() < 0.5 else ["-1", "--output-as=xml", *extra]


def wide_cibadmin(rng: random.Random, ids: Ids, xml: str) -> list[str]:
    """Patches, scopes, -B/-u/-5 and the odd option mixes."""
    scope = rng.choice(_SCOPES)
    return rng.choice((
        ["-P", "-X", _patch(rng, xml)], ["--patch", "-X", _patch(rng, xml)],
        ["-P", "-X", _bad_patch(rng, xml)], ["-Q", "-o", scope], ["-Q", "--scope", scope],
        ["-Q", "-o", scope, "-l"], ["-Q", "-n"], ["-B"], ["-u"], ["-5"], ["-5", "-Q"],
        ["-Q", "-o", scope, "-X", "<x/>"], ["-R", "-o", scope, "-X", f"<{scope}/>"],
        ["-M", "-o", scope, "-X", f'<{scope} id="probe"/>'], ["-E", "--force"],
        ["-D", "-o", scope, "-X", '<primitive id="nosuch"/>'],
    ))


def _paths(xml: str) -> list[tuple[str, ElementTree.Element]]:
    """(Pacemaker-style path, element) of every element with an id under the configuration."""
    root = ElementTree.fromstring(xml)
    found: list[tuple[str, ElementTree.Element]] = []

    def walk(element: ElementTree.Element, path: str) -> None:
        for child in element:
            step = f"{child.tag}[@id='{child.get('id')}']" if child.get("id") else child.tag
            here = f"{path}/{step}"
            if child.get("id"):
                found.append((here, child))
            walk(child, here)
    configuration = root.find("configuration")
    assert configuration is not None
    walk(configuration, "/cib/configuration")
    return found


def _version(root: ElementTree.Element, bump: int) -> str:
    epoch = int(root.get("epoch", "0"))
    return (f'<source admin_epoch="{root.get("admin_epoch", "0")}" epoch="{epoch}" '
            f'num_updates="{root.get("num_updates", "0")}"/><target admin_epoch='
            f'"{root.get("admin_epoch", "0")}" epoch="{epoch + bump}" num_updates="0"/>')


def _patch(rng: random.Random, xml: str) -> str:
    """A format-2 diff that applies: modify an attribute, delete an element or create one."""
    root = ElementTree.fromstring(xml)
    path, element = rng.choice(_paths(xml))
    kind = rng.choice(("modify", "delete", "create"))
    if kind == "modify":
        changed = ElementTree.tostring(element, encoding="unicode").split(">", 1)[0]
        change = (f'<change operation="modify" path="{path}"><change-list><change-attr '
                  f'name="description" operation="set" value="probe"/></change-list>'
                  f'<change-result>{changed} description="probe"/></change-result></change>')
    elif kind == "delete":
        change = f'<change operation="delete" path="{path}"/>'
    else:
        change = (f'<change operation="create" path="{path}" position="0"><meta_attributes '
                  f'id="probe-created"/></change>')
    return f'<diff format="2"><version>{_version(root, 1)}</version>{change}</diff>'


def _bad_patch(rng: random.Random, xml: str) -> str:
    """A diff that must not apply: stale or backward version, a path to nothing, not a diff."""
    root = ElementTree.fromstring(xml)
    nowhere = ('<change operation="delete" path="/cib/configuration/resources/'
               'primitive[@id=\'nosuch\']"/>')
    return rng.choice((
        f'<diff format="2"><version>{_version(root, 0)}</version>{nowhere}</diff>',
        f'<diff format="2"><version>{_version(root, 1)}</version>{nowhere}</diff>',
        f'<diff format="2"><version>{_version(root, -1)}</version></diff>',
        '<diff format="2"><version><source admin_epoch="0" epoch="99" num_updates="0"/>'
        '<target admin_epoch="0" epoch="100" num_updates="0"/></version></diff>',
        '<diff format="7"/>', "<notadiff/>", "<diff",
    ))
