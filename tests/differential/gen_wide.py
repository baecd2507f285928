"""The `wide` profile: semantics the default generator never draws, added to its CIBs.

`widen(xml, seed)` takes a default-profile CIB and, from its own `random.Random` (seeded
with "wide-<seed>", so the default profile's draws are untouched), adds: failure-timeout
with fail counts older and newer than the timeout at the execution date; shutdown locks
(shutdown-lock, shutdown-lock-limit, a node shutting down or cleanly offline with locked
resources); reload and restart through recorded op-digest / op-restart-digest; unfencing
(a device providing unfencing, requires=unfencing, nodes with and without #node-unfenced);
location with rsc-pattern; groups with collocated=false; tags in constraints;
resource-discovery=never/exclusive; on-fail variants; requires=nothing/quorum; and
multiple-active with a resource active on two nodes. Returns the new CIB and the feature
names drawn (all prefixed "w_").
"""

from __future__ import annotations

import random
from collections.abc import Callable
from xml.etree import ElementTree as ET

from messaging.digest import parameters_digest
from tests.differential.gen_status import EXECUTION_DATE
from tests.differential.generate import GeneratedCib, generate

_SECONDS = {"30s": 30, "120": 120, "10m": 600, "90m": 5400, "2h": 7200}


class _Wide:
    """The parsed CIB and helpers to change it."""

    def __init__(self, rng: random.Random, cib: ET.Element) -> None:
        self.rng = rng
        self.cib = cib
        self.features: set[str] = set()
        self.counter = 0
        self.uncollocated: set[str] = set()
        config = cib.find("configuration")
        assert config is not None
        self.config = config
        self.resources = _child(config, "resources")
        self.constraints = _child(config, "constraints")

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"w-{prefix}{self.counter}"

    def prop(self, name: str, value: str) -> None:
        crm = _child(self.config, "crm_config")
        block = crm.find("cluster_property_set")
        if block is None:
            block = ET.SubElement(crm, "cluster_property_set", id="cib-bootstrap-options")
        _set_nvpair(block, f"w-opt-{name}", name, value)

    def meta(self, rsc: ET.Element, name: str, value: str) -> None:
        block = rsc.find("meta_attributes")
        if block is None:
            block = ET.Element("meta_attributes", id=f"{rsc.get('id')}-wmeta")
            rsc.insert(0, block)
        _set_nvpair(block, f"{rsc.get('id')}-w-{name}", name, value)

    def primitives(self) -> list[ET.Element]:
        return [p for p in self.resources.iter("primitive") if p.get("class") == "ocf"]

    def tops(self) -> list[ET.Element]:
        return [r for r in self.resources if r.get("class") != "stonith"]

    def groups(self) -> list[ET.Element]:
        return list(self.resources.iter("group"))

    def node_states(self) -> list[ET.Element]:
        status = self.cib.find("status")
        return [] if status is None else list(status)

    def histories(self, rid: str) -> list[tuple[ET.Element, ET.Element]]:
        """(node_state, lrm_resource) pairs for a primitive id (any instance suffix)."""
        return [(ns, lrm) for ns in self.node_states() for lrm in ns.iter("lrm_resource")
                if (lrm.get("id") or "").split(":")[0] == rid]

    def transient(self, node_state: ET.Element, name: str, value: str) -> None:
        trans = node_state.find("transient_attributes")
        if trans is None:
            trans = ET.Element("transient_attributes", id=node_state.get("id") or "")
            node_state.insert(0, trans)
        block = trans.find("instance_attributes")
        if block is None:
            block = ET.SubElement(trans, "instance_attributes",
                                  id=f"status-{node_state.get('id')}")
        _set_nvpair(block, f"status-{node_state.get('id')}-{name}", name, value)

    def dc(self) -> str:
        return self.cib.get("dc-uuid") or ""

    def node_names(self) -> list[str]:
        nodes = self.config.find("nodes")
        return [] if nodes is None else [n.get("uname") or "" for n in nodes]


def _child(parent: ET.Element, tag: str) -> ET.Element:
    found = parent.find(tag)
    if found is None:
        found = ET.SubElement(parent, tag)
    return found


def _set_nvpair(block: ET.Element, nv_id: str, name: str, value: str) -> None:
    for nvpair in block.findall("nvpair"):
        if nvpair.get("name") == name:
            nvpair.set("value", value)
            return
    ET.SubElement(block, "nvpair", id=nv_id, name=name, value=value)


def _failure_timeout(w: _Wide) -> None:
    """failure-timeout on resources with fail counts of several ages (expired or not)."""
    for prim in w.rng.sample(w.primitives(), k=min(2, len(w.primitives()))):
        rid = prim.get("id") or ""
        timeout = w.rng.choice(tuple(_SECONDS))
        w.meta(prim, "failure-timeout", timeout)
        w.features.add("w_failure_timeout")
        for node_state, lrm in w.histories(rid):
            age = w.rng.choice((20, 100, 1000, 6000))
            key = f"{lrm.get('id')}#monitor_10000"
            w.transient(node_state, f"fail-count-{key}", w.rng.choice(("1", "3", "INFINITY")))
            w.transient(node_state, f"last-failure-{key}", str(EXECUTION_DATE - age))
            w.features.add("w_failure_expired" if age > _SECONDS[timeout]
                           else "w_failure_unexpired")


def _shutdown_lock(w: _Wide) -> None:
    """shutdown-lock=true with a node shutting down or cleanly offline holding resources."""
    w.prop("shutdown-lock", "true")
    w.features.add("w_shutdown_lock")
    if w.rng.random() < 0.5:
        w.prop("shutdown-lock-limit", w.rng.choice(("5m", "30m", "1h")))
        w.features.add("w_shutdown_lock_limit")
    holders = [ns for ns in w.node_states()
               if ns.get("id") != w.dc() and ns.find(".//lrm_resource") is not None]
    if not holders:
        return
    node_state = w.rng.choice(holders)
    if w.rng.random() < 0.5:
        node_state.attrib.update(in_ccm="true", crmd="online", join="member",
                                 expected="member")
        w.transient(node_state, "shutdown", str(EXECUTION_DATE - w.rng.choice((10, 1000))))
        w.features.add("w_shutdown_lock_stopping")
        return
    node_state.attrib.update(in_ccm="false", crmd="offline", join="down", expected="down")
    for lrm in node_state.iter("lrm_resource"):
        if lrm.get("class") != "stonith":
            lrm.set("shutdown-lock", str(EXECUTION_DATE - w.rng.choice((60, 1000, 5000))))
            _stopped_on_shutdown(node_state, lrm)
    w.features.add("w_shutdown_lock_offline")


def _stopped_on_shutdown(node_state: ET.Element, lrm: ET.Element) -> None:
    """The stop a clean shutdown ran before the node left (its lock keeps the history).

    Without it the resource would still be active on a cleanly offline node, which
    Pacemaker fences ("thought to be active there"): no longer a shutdown lock at all.
    """
    ops = list(lrm.iter("lrm_rsc_op"))
    if ops and ops[-1].get("operation") == "stop":
        return
    ET.SubElement(lrm, "lrm_rsc_op", _op_attrs(node_state.get("id") or "", lrm.get("id") or "",
                                               "stop", _next_call(node_state), rc=0, target=0))


def _next_call(node_state: ET.Element) -> int:
    calls = [int(op.get("call-id") or 0) for op in node_state.iter("lrm_rsc_op")]
    return max(calls, default=0) + 1


def _op_attrs(node: str, rid: str, task: str, call: int, *, rc: int,
              target: int) -> dict[str, str]:
    """A completed history entry with the generator's call-id/last-rc-change scheme."""
    magic = f"{call}:1:{target}:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    return {
        "id": f"{rid}_{task}_0_w{call}", "operation_key": f"{rid}_{task}_0",
        "operation": task, "crm-debug-origin": "gen", "crm_feature_set": "3.16.1",
        "transition-key": magic, "transition-magic": f"0:{rc};{magic}", "exit-reason": "",
        "on_node": node, "call-id": str(call), "rc-code": str(rc), "op-status": "0",
        "interval": "0", "last-rc-change": str(EXECUTION_DATE - 5000 + call * 10),
        "exec-time": "1", "queue-time": "0", "op-digest": "f2317cad3d54cec5d7d7aa7d0bf35cf8"}


def _reload(w: _Wide) -> None:
    """A changed definition that reloads (restart digest matches) or restarts."""
    candidates = [p for p in w.primitives() if w.histories(p.get("id") or "")]
    if not candidates:
        return
    prim = w.rng.choice(candidates)
    variant = w.rng.choice(("reload", "restart", "restart_only"))
    params = {"fake": "new"} if variant == "reload" else {"fake": "new", "state": "/run/a"}
    block = ET.Element("instance_attributes", id=f"{prim.get('id')}-wparams")
    for name, value in params.items():
        ET.SubElement(block, "nvpair", id=f"{prim.get('id')}-wp-{name}", name=name,
                      value=value)
    prim.insert(0, block)
    recorded = params if variant == "restart_only" else {**params, "fake": "old"}
    restart = {k: v for k, v in params.items() if k == "state"}
    if variant != "reload":
        restart = {"state": "/run/b"}
    for _node_state, lrm in w.histories(prim.get("id") or ""):
        for op in lrm.iter("lrm_rsc_op"):
            if op.get("interval") == "0":
                op.set("op-digest", parameters_digest(recorded))
                op.set("op-force-restart", " state ")
                op.set("op-restart-digest", parameters_digest(restart))
    w.features.add(f"w_digest_{variant}")


def _unfencing(w: _Wide) -> None:
    """A device providing unfencing, resources requiring it, nodes already unfenced or not."""
    w.prop("stonith-enabled", "true")
    dev = ET.Element("primitive", id="w-unfence", **{"class": "stonith", "type": "fence_dummy"})
    w.meta(dev, "provides", "unfencing")
    ops = ET.SubElement(dev, "operations")
    ET.SubElement(ops, "op", id="w-unfence-monitor", name="monitor", interval="60s")
    w.resources.insert(0, dev)
    w.features.add("w_unfencing")
    for prim in w.rng.sample(w.primitives(), k=min(2, len(w.primitives()))):
        w.meta(prim, "requires", "unfencing")
        w.features.add("w_requires_unfencing")
    for node_state in w.node_states():
        if w.rng.random() < 0.5:
            w.transient(node_state, "#node-unfenced", str(EXECUTION_DATE - 1000))
            w.features.add("w_node_unfenced")


def _rsc_pattern(w: _Wide) -> None:
    lid = w.fresh("pat")
    pattern = w.rng.choice(("^r[0-9]+$", "^(m|d)", "^g", "^c[0-9]$", "[13]$"))
    attrs = {"id": lid, "rsc-pattern": pattern}
    if w.rng.random() < 0.6:
        attrs.update(node=w.rng.choice(w.node_names()),
                     score=w.rng.choice(("INFINITY", "-INFINITY", "100", "-100")))
        ET.SubElement(w.constraints, "rsc_location", attrs)
    else:
        loc = ET.SubElement(w.constraints, "rsc_location", attrs)
        rule = ET.SubElement(loc, "rule", id=f"{lid}-rule", score="200")
        ET.SubElement(rule, "expression", id=f"{lid}-e", attribute="rack", operation="eq",
                      value=w.rng.choice("AB"))
    w.features.add("w_location_rsc_pattern")


def _uncollocated(w: _Wide) -> None:
    """collocated=false on groups no colocation has as its primary.

    Pacemaker refuses a mandatory colocation with a non-colocated group ("Cannot perform
    mandatory colocation with non-colocated group"), an input error, so groups that are (or
    whose clone is) a colocation's with-rsc or in one of its sets keep collocated.
    """
    named = {ref.get("id") for col in w.constraints.iter("rsc_colocation")
             for ref in col.iter("resource_ref")}
    named |= {col.get("with-rsc") for col in w.constraints.iter("rsc_colocation")}
    clone_of = {child.get("id"): clone.get("id") for clone in w.resources.iter("clone")
                for child in clone}
    for group in w.groups():
        ids = {group.get("id"), clone_of.get(group.get("id"))}
        if not ids & named and w.rng.random() < 0.7:
            w.uncollocated.add(group.get("id") or "")
            w.meta(group, "collocated", "false")
            w.features.add("w_group_collocated_false")
            if w.rng.random() < 0.3:
                w.meta(group, "ordered", "false")
                w.features.add("w_group_ordered_false")


def _tags(w: _Wide) -> None:
    """A tag over top-level resources, used in a location and maybe a colocation."""
    tops = [t.get("id") or "" for t in w.tops()]
    if len(tops) < 2:
        return
    members = w.rng.sample(tops, k=2)
    tag_id = w.fresh("tag")
    tag = ET.SubElement(_child(w.config, "tags"), "tag", id=tag_id)
    for member in members:
        ET.SubElement(tag, "obj_ref", id=member)
    ET.SubElement(w.constraints, "rsc_location", id=w.fresh("tagloc"), rsc=tag_id,
                  node=w.rng.choice(w.node_names()),
                  score=w.rng.choice(("INFINITY", "-INFINITY", "100", "-100")))
    w.features.add("w_tag_location")
    others = [t for t in tops if t not in members and t not in w.uncollocated]
    if others and w.rng.random() < 0.5:
        ET.SubElement(w.constraints, "rsc_colocation", id=w.fresh("tagcol"), rsc=tag_id,
                      **{"with-rsc": w.rng.choice(others)},
                      score=w.rng.choice(("INFINITY", "100", "-INFINITY")))
        w.features.add("w_tag_colocation")


def _discovery(w: _Wide) -> None:
    for _ in range(w.rng.randint(1, 2)):
        mode = w.rng.choice(("never", "exclusive"))
        ET.SubElement(w.constraints, "rsc_location", id=w.fresh("disc"),
                      rsc=w.rng.choice([t.get("id") or "" for t in w.tops()]),
                      node=w.rng.choice(w.node_names()),
                      score=w.rng.choice(("INFINITY", "100", "0", "-INFINITY")),
                      **{"resource-discovery": mode})
        w.features.add(f"w_discovery_{mode}")


def _on_fail(w: _Wide) -> None:
    """on-fail on monitors (and sometimes start/stop) of a few primitives."""
    fencing = _stonith_enabled(w)
    for prim in w.rng.sample(w.primitives(), k=min(3, len(w.primitives()))):
        stateful = prim.get("type") == "Stateful"
        choices = ["block", "ignore", "standby", "stop", "restart"]
        if fencing:
            choices.append("fence")
        for op in prim.iter("op"):
            promoted = op.get("role") == "Promoted"
            demote = stateful and promoted and w.rng.random() < 0.5
            value = "demote" if demote else w.rng.choice(choices)
            op.set("on-fail", value)
            w.features.add(f"w_on_fail_{value}")
        if w.rng.random() < 0.4:
            task = w.rng.choice(("start", "stop"))
            # Pacemaker resets on-fail=standby/stop on a stop action to its default
            # (unpack_operation_on_fail logs an input error), so stops draw only the others.
            allowed = [c for c in choices if task == "start" or c not in ("standby", "stop")]
            value = w.rng.choice(allowed)
            ops = _child(prim, "operations")
            ET.SubElement(ops, "op", id=f"{prim.get('id')}-w-{task}", name=task,
                          interval="0s", **{"on-fail": value})
            w.features.update((f"w_on_fail_{value}", f"w_on_fail_{task}_op"))


def _stonith_enabled(w: _Wide) -> bool:
    return any(nv.get("name") == "stonith-enabled" and nv.get("value") == "true"
               for nv in w.config.iter("nvpair"))


def _requires(w: _Wide) -> None:
    for prim in w.rng.sample(w.primitives(), k=min(2, len(w.primitives()))):
        value = w.rng.choice(("nothing", "quorum", "fencing"))
        w.meta(prim, "requires", value)
        w.features.add(f"w_requires_{value}")


def _multiple_active(w: _Wide) -> None:
    """A running primitive also running on a second online node, with multiple-active."""
    online = [ns for ns in w.node_states() if ns.get("crmd") == "online"]
    for prim in w.primitives():
        rid = prim.get("id") or ""
        held = [(ns, lrm) for ns, lrm in w.histories(rid) if lrm.get("id") == rid
                and any(op.get("operation") == "start" and op.get("rc-code") == "0"
                        for op in lrm)]
        holders = {id(ns) for ns, _lrm in w.histories(rid)}
        spare = [ns for ns in online if id(ns) not in holders]
        if not held or not spare:
            continue
        _copy_running(w.rng.choice(spare), held[0][1])
        value = w.rng.choice(("stop_start", "stop_only", "block", "stop_unexpected"))
        w.meta(prim, "multiple-active", value)
        w.features.add(f"w_multiple_active_{value}")
        return


def _copy_running(node_state: ET.Element, lrm: ET.Element) -> None:
    """A probe that found `lrm`'s resource running, with call ids after the node's last."""
    lrm_resources = node_state.find("lrm/lrm_resources")
    assert lrm_resources is not None
    copy = ET.SubElement(lrm_resources, "lrm_resource", dict(lrm.attrib))
    attrs = _op_attrs(node_state.get("id") or "", lrm.get("id") or "", "monitor",
                      _next_call(node_state), rc=0, target=7)
    attrs["id"] = f"{lrm.get('id')}_last_0"
    ET.SubElement(copy, "lrm_rsc_op", attrs)


_DRAWS: tuple[tuple[float, Callable[[_Wide], None]], ...] = (
    (0.3, _failure_timeout), (0.2, _shutdown_lock), (0.25, _reload), (0.15, _unfencing),
    (0.2, _rsc_pattern), (0.5, _uncollocated), (0.2, _tags), (0.2, _discovery),
    (0.3, _on_fail), (0.2, _requires), (0.2, _multiple_active),
)


def generate_wide(seed: int) -> GeneratedCib:
    """The default profile's CIB for `seed`, widened."""
    base = generate(seed)
    xml, features = widen(base.xml, seed)
    return GeneratedCib(seed, xml, base.features | features)


def widen(xml: str, seed: int) -> tuple[str, frozenset[str]]:
    """The CIB with this seed's wide-profile features added, and their names."""
    wide = _Wide(random.Random(f"wide-{seed}"), ET.fromstring(xml))
    for share, draw in _DRAWS:
        if wide.rng.random() < share:
            draw(wide)
    return ET.tostring(wide.cib, encoding="unicode") + "\n", frozenset(wide.features)
