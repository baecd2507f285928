"""A seeded generator of cibadmin command lines over a CIB (for the differential test).

Each case is a list of arguments plus, optionally, a file of XML it reads with -x. The
choice of operations covers every command of cibadmin and the error paths the issue names
(bad XML, unknown scope, xpath matching nothing, duplicate id, missing --force).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from lxml import etree

Case = list[str]
SCOPES = ["configuration", "nodes", "resources", "constraints", "crm_config", "rsc_defaults",
          "op_defaults", "status", "alerts", "bogus"]
XPATHS = ["//primitive", "//nvpair[@name='target-role']", "//node", "//nothing",
          "/cib/configuration/crm_config", "//op[@name='monitor']", "//node_state", "//*[@id]"]


def _ids(cib: etree._Element, tag: str) -> list[str]:
    return [node.get("id") or "" for node in cib.iter(tag) if node.get("id")]


def _pick(rng: random.Random, items: list[str], fallback: str) -> str:
    return rng.choice(items) if items else fallback


def _query(rng: random.Random, cib: etree._Element) -> Case:
    roll = rng.random()
    if roll < 0.3:
        return ["-Q", "-o", rng.choice(SCOPES)] + (["-n"] if rng.random() < 0.2 else [])
    if roll < 0.8:
        extra = rng.choice([[], ["-e"], ["-n"]])
        return ["-Q", "-A", rng.choice(XPATHS), *extra]
    return ["-Q", *rng.choice([[], ["-l"], ["-s"], ["-t", "5"]])]


def _create(rng: random.Random, cib: etree._Element) -> Case:
    primitives = _ids(cib, "primitive")
    new = f"gen{rng.randrange(1000)}"
    choices = [
        ["-C", "-o", "resources", "-X",
         f'<primitive id="{new}" class="ocf" provider="pacemaker" type="Dummy"/>'],
        ["-C", "-o", "resources", "-X",
         f'<primitive id="{_pick(rng, primitives, "x")}" class="ocf" provider="heartbeat" '
         'type="Dummy"/>'],
        ["-C", "-o", "constraints", "-X",
         f'<rsc_location id="loc-{new}" rsc="{_pick(rng, primitives, "x")}" node="n1" '
         'score="100"/>'],
        ["-C", "-o", "nodes", "-X", f'<primitive id="{new}"/>'],
        ["-C", "-o", "rsc_defaults", "-X", f'<meta_attributes id="{new}"/>'],
        ["-C", "-o", "status", "-X", f'<node_state id="{new}" uname="{new}"/>'],
        ["-C", "-X", f'<primitive id="{new}" class="ocf" provider="pacemaker" type="Dummy"/>'],
        ["-C", "-o", rng.choice(SCOPES), "-X", f'<primitive id="{new}" class="ocf" '
         'provider="pacemaker" type="Dummy"/>'],
        ["-C", "-o", "resources", "-X", '<primitive id="broken"'],
        ["-C", "-o", "constraints", "-X",
         f'<constraints><rsc_location id="loc2-{new}" rsc="{_pick(rng, primitives, "x")}" '
         'node="n2" score="-INFINITY"/></constraints>'],
        ["-C", "-o", "resources", "-X", "not xml"],
        ["-C", "-A", "//resources", "-X", f'<primitive id="{new}" class="ocf" '
         'provider="pacemaker" type="Dummy"/>'],
    ]
    return rng.choice(choices)


def _modify(rng: random.Random, cib: etree._Element) -> Case:
    primitives = _ids(cib, "primitive")
    nvpairs = _ids(cib, "nvpair")
    target = _pick(rng, primitives, "x")
    choices = [
        ["-M", "-X", f'<primitive id="{target}" description="changed {rng.randrange(99)}"/>'],
        ["-M", "-X", '<primitive id="absent" type="X"/>'],
        ["-M", "-c", "-o", "resources", "-X",
         '<primitive id="absent" class="ocf" provider="pacemaker" type="Dummy"/>'],
        ["-M", "-X", '<cib admin_epoch="admin_epoch++"/>'],
        ["-M", "-X", f'<nvpair id="{_pick(rng, nvpairs, "x")}" value="{rng.randrange(9)}"/>'],
        ["-M", "-o", "crm_config", "-X",
         '<cluster_property_set id="cib-bootstrap-options"><nvpair '
         'id="cib-bootstrap-options-gen" name="gen" value="1"/></cluster_property_set>'],
        ["-M", "-A", f"//primitive[@id='{target}']", "-X",
         f'<primitive id="{target}" description="via xpath"/>'],
        ["-M", "-X", f'<primitive id="{target}" bogus-attr="1"/>'],
        ["-M", "-X", f'<nvpair id="{_pick(rng, nvpairs, "x")}" value="value++"/>'],
        ["-M", "-X", f'<primitive id="{target}"><meta_attributes id="{target}-gen-meta">'
         f'<nvpair id="{target}-gen-meta-tr" name="target-role" value="Stopped"/>'
         "</meta_attributes></primitive>"],
        ["-M", "-o", "rsc_defaults", "-c", "-X",
         '<meta_attributes id="gen-rsc-options"><nvpair id="gen-rsc-options-stickiness" '
         'name="resource-stickiness" value="100"/></meta_attributes>'],
    ]
    return rng.choice(choices)


def _replace(rng: random.Random, cib: etree._Element) -> Case:
    primitives = _ids(cib, "primitive")
    target = _pick(rng, primitives, "x")
    choices = [
        ["-R", "-o", "resources", "-X", "<resources/>"],
        ["-R", "-o", "constraints", "-X", "<constraints/>"],
        ["-R", "-X", f'<primitive id="{target}" class="ocf" provider="heartbeat" type="IPaddr2"/>'],
        ["-R", "-X", '<primitive id="absent" class="ocf" provider="heartbeat" type="Dummy"/>'],
        ["-R", "-A", f"//primitive[@id='{target}']", "-X",
         f'<primitive id="{target}" class="ocf" provider="pacemaker" type="Stateful"/>'],
    ]
    return rng.choice(choices)


def _delete(rng: random.Random, cib: etree._Element) -> Case:
    primitives = _ids(cib, "primitive")
    target = _pick(rng, primitives, "x")
    choices = [
        ["-D", "-X", f'<primitive id="{target}"/>'],
        ["-D", "-X", f'<primitive id="{target}" class="nomatch"/>'],
        ["-D", "-X", '<primitive id="absent"/>'],
        ["-D", "-o", "constraints", "-X", "<rsc_location/>"],
        ["-D", "-A", rng.choice(XPATHS)],
        ["-d", "-A", rng.choice(XPATHS)],
        ["-d", "-A", rng.choice(XPATHS), "--force"],
        ["-D", "-A", "/cib"],
        ["-D", "-o", "constraints", "-X",
         f'<constraints><rsc_location id="{_pick(rng, _ids(cib, "rsc_location"), "x")}"/>'
         "</constraints>"],
    ]
    return rng.choice(choices)


def _other(rng: random.Random, cib: etree._Element) -> Case:
    return rng.choice([["-E"], ["-E", "--force"], ["-B"], ["-u"], ["-u", "--force"],
                       ["-a"], ["-a", "pacemaker-2.0"], ["-D"], ["-C", "-o", "resources"],
                       ["-Q", "-x", "/nonexistent.xml"], ["-M"]])


KINDS: list[tuple[float, Callable[[random.Random, etree._Element], Case]]] = [
    (0.25, _query), (0.2, _create), (0.2, _modify), (0.1, _replace), (0.15, _delete),
    (0.1, _other),
]


def next_case(rng: random.Random, cib: etree._Element) -> Case:
    """One cibadmin command line for the CIB as it is now."""
    roll, total = rng.random(), 0.0
    for weight, make in KINDS:
        total += weight
        if roll < total:
            return make(rng, cib)
    return _query(rng, cib)
