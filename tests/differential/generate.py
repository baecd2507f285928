"""Seeded generator of random valid CIBs for differential testing against Pacemaker.

`generate(seed)` returns the CIB text and the set of features it uses (the runner's
per-feature agreement table is keyed by them). The same seed always gives the same CIB.
Covers 2-16 nodes; primitives, groups, anonymous/unique/promotable clones and clones of groups
(interleave, ordered, notify, clone-max, clone-min); location (scores, rules, roles, sets),
colocation and order (roles, kinds, sets); utilization with each placement-strategy;
stickiness, standby, maintenance, unmanaged resources; histories reaching running, stopped,
failed start/monitor/stop, promoted, failed promoted, partial and finished migrations,
pending starts, orphans, fail counts; offline, unclean, pending, unseen and shutting-down
nodes; no quorum.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.differential.gen_config import ConfigGen, nvset
from tests.differential.gen_status import EXECUTION_DATE, StatusGen

_NODE_STATE_ATTRS = {
    "online": ("true", "online", "member", "member"),
    "shutdown": ("true", "online", "member", "member"),
    "offline": ("false", "offline", "down", "down"),
    "unclean": ("false", "offline", "member", "member"),
    "pending": ("true", "online", "pending", "member"),
}


@dataclass(frozen=True)
class GeneratedCib:
    seed: int
    xml: str
    features: frozenset[str]


def _options(rng: random.Random, features: set[str]) -> tuple[dict[str, str], bool, bool]:
    """Cluster options, whether a fencing device exists, and quorum."""
    opts = {"stonith-enabled": "false"}
    device = False
    if rng.random() < 0.4:
        opts["stonith-enabled"] = "true"
        features.add("stonith")
        device = rng.random() < 0.9
        if not device:
            features.add("stonith_without_device")
    quorum = rng.random() < 0.85
    policy = rng.choice(("stop", "stop", "freeze", "ignore", "demote"))
    if policy != "stop":
        opts["no-quorum-policy"] = policy
    if not quorum:
        features.add(f"no_quorum_{policy}")
    for name, value, share, feature in (
            ("symmetric-cluster", "false", 0.08, "asymmetric"),
            ("maintenance-mode", "true", 0.03, "maintenance_mode"),
            ("enable-startup-probes", "false", 0.05, "no_probes"),
            ("stop-all-resources", "true", 0.02, "stop_all")):
        if rng.random() < share:
            opts[name] = value
            features.add(feature)
    return opts, device, quorum


def _node_attrs(rng: random.Random, cfg: ConfigGen, features: set[str]) -> dict[str, dict]:
    extra: dict[str, dict[str, str]] = {}
    for name in cfg.nodes:
        if rng.random() < 0.1:
            extra.setdefault(name, {})["standby"] = "on"
            features.add("standby")
        if rng.random() < 0.03:
            extra.setdefault(name, {})["maintenance"] = "true"
            features.add("node_maintenance")
    return extra


def _node_states(status: StatusGen) -> str:
    out = []
    for name, h in status.hist.items():
        if h.state == "unseen":
            continue
        in_ccm, crmd, join, expected = _NODE_STATE_ATTRS[h.state]
        transient = dict(h.transient)
        if h.state == "shutdown":
            transient["shutdown"] = str(EXECUTION_DATE - 10)
        attrs = ""
        if transient:
            attrs = (f'<transient_attributes id="{name}">'
                     f'{nvset("instance_attributes", f"status-{name}", transient)}'
                     f"</transient_attributes>")
        lrm = "".join(
            f'<lrm_resource id="{hid}" {_agent(agent)}>{"".join(ops)}</lrm_resource>'
            for hid, (agent, ops) in h.resources.items())
        out.append(f'<node_state id="{name}" uname="{name}" in_ccm="{in_ccm}" crmd="{crmd}" '
                   f'join="{join}" expected="{expected}" crm-debug-origin="gen">{attrs}'
                   f'<lrm id="{name}"><lrm_resources>{lrm}</lrm_resources></lrm></node_state>')
    return "".join(out)


def _agent(agent: str) -> str:
    if agent == "fence_dummy":
        return 'class="stonith" type="fence_dummy"'
    return f'class="ocf" provider="pacemaker" type="{agent}"'


def _rsc_defaults(rng: random.Random, features: set[str]) -> str:
    pairs = {}
    if rng.random() < 0.2:
        pairs["resource-stickiness"] = rng.choice(("1", "50", "100"))
        features.add("stickiness")
    if rng.random() < 0.1:
        pairs["migration-threshold"] = rng.choice(("1", "3"))
        features.add("migration_threshold")
    if not pairs:
        return ""
    return f'<rsc_defaults>{nvset("meta_attributes", "rsc-options", pairs)}</rsc_defaults>'


def _allow_unmanaged_promotable(cfg: ConfigGen, status: StatusGen, opts: dict[str, str],
                                node_attrs: dict[str, dict]) -> str:
    """Score-0 locations that keep an unmanaged promotable instance on an allowed node.

    Pacemaker 2.1.5's crm_simulate aborts (add_sort_index_to_node_weight asserts that an
    instance's node is among its clone's allowed nodes) when an unmanaged promotable
    instance stays on a node an asymmetric cluster does not allow its clone on: such a CIB
    is no input Pacemaker can schedule (seed 267). Draws nothing from the generator, so no
    other CIB changes.
    """
    if opts.get("symmetric-cluster") != "false":
        return ""
    out = []
    for top in cfg.tops:
        unmanaged = 'name="is-managed" value="false"' in top.xml \
            or 'name="maintenance" value="true"' in top.xml \
            or opts.get("maintenance-mode") == "true"
        for node, history in status.hist.items():
            held = any(hid.split(":")[0] in top.members for hid in history.resources)
            if top.promotable and held and (
                    unmanaged or node_attrs.get(node, {}).get("maintenance") == "true"):
                out.append(f'<rsc_location id="gen-allow-{top.id}-{node}" rsc="{top.id}" '
                           f'node="{node}" score="0"/>')
    return "".join(out)


def generate(seed: int) -> GeneratedCib:
    rng = random.Random(seed)
    features: set[str] = set()
    opts, device, quorum = _options(rng, features)
    cfg = ConfigGen(rng)
    for _ in range(rng.randint(1, 7)):
        cfg.add_resource()
    node_attrs = _node_attrs(rng, cfg, features)
    status = StatusGen(rng, cfg.nodes, opts["stonith-enabled"] == "true")
    resources = ""
    if device:
        resources += ('<primitive id="fencing" class="stonith" type="fence_dummy">'
                      '<operations><op id="fencing-monitor" name="monitor" interval="60s"/>'
                      "</operations></primitive>")
        status.place("fencing", "fence_dummy", status.online()[0], False, "running")
    for top in cfg.tops:
        resources += top.xml
        agent = "Stateful" if top.promotable else "Dummy"
        if top.cloned:
            status.clone(top, agent)
            if top.promotable:
                status.promotion_scores(top)
        else:
            status.primitive_like(top, agent)
    if rng.random() < 0.1:
        status.orphan()
    constraints = cfg.constraints() + _allow_unmanaged_promotable(cfg, status, opts,
                                                                  node_attrs)
    if opts.get("placement-strategy") is None and cfg.strategy != "default":
        opts["placement-strategy"] = cfg.strategy
    nodes_xml = cfg.nodes_xml(node_attrs)
    props = nvset("cluster_property_set", "cib-bootstrap-options", opts)
    xml = (f'<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" '
           f'num_updates="0" admin_epoch="0" have-quorum="{int(quorum)}" dc-uuid="'
           f'{status.online()[0]}" execution-date="{EXECUTION_DATE}"><configuration>'
           f"<crm_config>{props}</crm_config><nodes>{nodes_xml}</nodes>"
           f"<resources>{resources}</resources><constraints>{constraints}</constraints>"
           f"{_rsc_defaults(rng, features)}</configuration><status>{_node_states(status)}"
           f"</status></cib>\n")
    return GeneratedCib(seed, xml, frozenset(features | cfg.features | status.features))
