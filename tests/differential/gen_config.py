"""Random configuration section (nodes, resources, constraints) for the differential test.

Invariants: everything is drawn from one `random.Random`, so a seed fixes the CIB; every id is
unique; constraints only name top-level resources or members of uncloned groups (Pacemaker
refuses constraints on clone children); orderings and colocations go from an earlier to a later
resource, so neither forms a cycle; role-qualified constraints and promote/demote actions are
used only with promotable clones. `Top.features` records which features a resource uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SCORES = ("INFINITY", "-INFINITY", "100", "-100", "50", "500", "1000", "10", "200", "-50")
STRATEGIES = ("default", "utilization", "minimal", "balanced")
NEW_CLONE_KINDS = ("clone", "unique", "promotable", "clonegroup")


@dataclass
class Top:
    """A top-level resource and what the status generator needs to know about it."""

    id: str
    kind: str  # primitive | group | clone | unique | promotable | clonegroup
    members: list[str]  # primitive ids (group members / cloned primitive / cloned group members)
    clone_max: int = 0
    node_max: int = 1
    migratable: bool = False
    interleave: bool = False
    xml: str = ""
    features: set[str] = field(default_factory=set)

    @property
    def cloned(self) -> bool:
        return self.kind in NEW_CLONE_KINDS

    @property
    def promotable(self) -> bool:
        return self.kind == "promotable"


def nvset(tag: str, set_id: str, pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    body = "".join(f'<nvpair id="{set_id}-{k}" name="{k}" value="{v}"/>' for k, v in pairs.items())
    return f'<{tag} id="{set_id}">{body}</{tag}>'


def _ops(rid: str, promotable: bool) -> str:
    ops = f'<op id="{rid}-monitor-10s" name="monitor" interval="10s" timeout="20s"/>'
    if promotable:
        ops = (f'<op id="{rid}-monitor-11s" name="monitor" interval="11s" role="Promoted" '
               f'timeout="20s"/><op id="{rid}-monitor-12s" name="monitor" interval="12s" '
               f'role="Unpromoted" timeout="20s"/>')
    return f"<operations>{ops}</operations>"


class ConfigGen:
    """Draws nodes, resources and constraints; keeps what the status generator needs."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.features: set[str] = set()
        self.tops: list[Top] = []
        self.counter = 0
        self.node_count = rng.choice((2, 2, 3, 3, 3, 4, 4, 5, 6, 8, 12, 16))
        self.nodes = [f"node{i}" for i in range(1, self.node_count + 1)]
        self.strategy = rng.choice(STRATEGIES) if rng.random() < 0.3 else "default"
        self.racks = {n: rng.choice("AB") for n in self.nodes}
        if self.strategy != "default":
            self.features.add(f"utilization_{self.strategy}")

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- resources -------------------------------------------------------------------------
    def _meta(self, *, top_level: bool, promotable: bool = False) -> dict[str, str]:
        rng, meta = self.rng, {}
        if rng.random() < 0.25:
            meta["resource-stickiness"] = rng.choice(("0", "1", "10", "100", "INFINITY"))
            self.features.add("stickiness")
        if rng.random() < 0.06:
            meta["is-managed"] = "false"
            self.features.add("unmanaged")
        if rng.random() < 0.04:
            meta["maintenance"] = "true"
            self.features.add("maintenance")
        if rng.random() < 0.15:
            meta["migration-threshold"] = rng.choice(("1", "2", "3"))
            self.features.add("migration_threshold")
        if top_level and rng.random() < 0.08:
            roles = ("Stopped", "Unpromoted", "Promoted") if promotable else ("Stopped", "Started")
            meta["target-role"] = rng.choice(roles)
            self.features.add("target_role")
        if top_level and rng.random() < 0.1:
            meta["priority"] = rng.choice(("1", "5", "10"))
            self.features.add("priority")
        return meta

    def _utilization(self, rid: str) -> str:
        if self.strategy == "default" and self.rng.random() > 0.05:
            return ""
        pairs = {"cpu": str(self.rng.randint(1, 3))}
        if self.rng.random() < 0.5:
            pairs["mem"] = str(self.rng.choice((128, 256, 512)))
        return nvset("utilization", f"{rid}-util", pairs)

    def primitive(self, rid: str, *, stateful: bool = False, top_level: bool = False,
                  migratable: bool = False) -> str:
        meta = self._meta(top_level=top_level)
        if migratable:
            meta["allow-migrate"] = "true"
        agent = "Stateful" if stateful else "Dummy"
        return (f'<primitive id="{rid}" class="ocf" provider="pacemaker" type="{agent}">'
                f'{nvset("meta_attributes", f"{rid}-meta", meta)}{self._utilization(rid)}'
                f"{_ops(rid, stateful)}</primitive>")

    def add_resource(self) -> None:
        rng = self.rng
        kind = rng.choices(("primitive", "group", *NEW_CLONE_KINDS),
                           weights=(5, 2, 2, 1, 2, 1))[0]
        self.features.add(kind if kind != "clone" else "anonymous_clone")
        if kind == "primitive":
            rid = self.fresh("r")
            migratable = rng.random() < 0.25
            top = Top(rid, kind, [rid], migratable=migratable,
                      xml=self.primitive(rid, top_level=True, migratable=migratable))
        elif kind == "group":
            top = self._group(self.fresh("g"))
        else:
            top = self._clone(kind)
        self.tops.append(top)

    def _group(self, gid: str, cloned: bool = False) -> Top:
        members = [self.fresh("m") for _ in range(self.rng.randint(2, 3))]
        meta = {} if cloned else self._meta(top_level=True)
        body = "".join(self.primitive(m) for m in members)
        xml = f'<group id="{gid}">{nvset("meta_attributes", f"{gid}-meta", meta)}{body}</group>'
        return Top(gid, "group", members, xml=xml)

    def _clone(self, kind: str) -> Top:
        rng = self.rng
        cid = self.fresh("c")
        meta: dict[str, str] = {}
        node_max = 1
        clone_max = self.node_count
        if rng.random() < 0.4:
            clone_max = rng.randint(1, self.node_count + 1)
            meta["clone-max"] = str(clone_max)
            self.features.add("clone_max")
        if kind == "unique":
            meta["globally-unique"] = "true"
            if rng.random() < 0.5:
                node_max = rng.randint(1, 3)
                meta["clone-node-max"] = str(node_max)
        if kind == "promotable":
            meta["promotable"] = "true"
            if rng.random() < 0.3:
                meta["promoted-max"] = str(rng.randint(1, 2))
        for name, feature in (("interleave", "interleave"), ("ordered", "ordered"),
                              ("notify", "notify")):
            # Interleaving needs equal clone-node-max on both sides (config error otherwise).
            if rng.random() < 0.3 and not (name == "interleave" and node_max != 1):
                meta[name] = "true"
                self.features.add(feature)
        if rng.random() < 0.1:
            meta["clone-min"] = str(rng.randint(1, 2))
            self.features.add("clone_min")
        meta.update(self._meta(top_level=True, promotable=kind == "promotable"))
        migratable = kind in ("clone", "unique") and rng.random() < 0.2
        if kind == "clonegroup":
            inner = self._group(self.fresh("g"), cloned=True)
            members, child_xml = inner.members, inner.xml
        else:
            pid = self.fresh("d")
            members = [pid]
            child_xml = self.primitive(pid, stateful=kind == "promotable", migratable=migratable)
        xml = (f'<clone id="{cid}">{nvset("meta_attributes", f"{cid}-meta", meta)}'
               f"{child_xml}</clone>")
        return Top(cid, kind, members, clone_max=clone_max, node_max=node_max,
                   migratable=migratable, interleave="interleave" in meta, xml=xml)

    # -- constraints -----------------------------------------------------------------------
    def constrainable(self) -> list[str]:
        """Ids a constraint may name: top-level resources and members of plain groups."""
        out = [t.id for t in self.tops]
        for t in self.tops:
            if t.kind == "group" and self.rng.random() < 0.3:
                out.append(self.rng.choice(t.members))
        return out

    def top_of(self, rid: str) -> Top:
        return next(t for t in self.tops if t.id == rid or (not t.cloned and rid in t.members))

    def score(self) -> str:
        return self.rng.choice(SCORES)

    def location(self) -> str:
        rng = self.rng
        lid = self.fresh("loc")
        rid = rng.choice(self.constrainable())
        role = ""
        if self.top_of(rid).promotable and rng.random() < 0.5:
            role = ' role="Promoted"'
            self.features.add("location_role")
        choice = rng.random()
        if choice < 0.5:
            self.features.add("location_score")
            return (f'<rsc_location id="{lid}" rsc="{rid}" node="{rng.choice(self.nodes)}" '
                    f'score="{self.score()}"{role}/>')
        if choice < 0.85:
            self.features.add("location_rule")
            if rng.random() < 0.5:
                expr = (f'<expression id="{lid}-e" attribute="#uname" operation="'
                        f'{rng.choice(("eq", "ne"))}" value="{rng.choice(self.nodes)}"/>')
            else:
                expr = (f'<expression id="{lid}-e" attribute="rack" operation="eq" '
                        f'value="{rng.choice("AB")}"/>')
            return (f'<rsc_location id="{lid}" rsc="{rid}"{role}><rule id="{lid}-rule" '
                    f'score="{self.score()}">{expr}</rule></rsc_location>')
        self.features.add("resource_set")
        refs = rng.sample(self.constrainable(), k=min(2, len(self.tops)))
        body = "".join(f'<resource_ref id="{r}"/>' for r in dict.fromkeys(refs))
        return (f'<rsc_location id="{lid}" node="{rng.choice(self.nodes)}" '
                f'score="{self.score()}"><resource_set id="{lid}-set">{body}</resource_set>'
                f"</rsc_location>")

    def _pair(self) -> tuple[str, str] | None:
        ids = self.constrainable()
        first, then = self.rng.sample(ids, 2)
        a, b = self.top_of(first), self.top_of(then)
        if a is b:
            return None
        if a.cloned and b.cloned and (a.interleave or b.interleave) \
                and a.node_max != b.node_max:
            return None  # "Cannot interleave ...": a configuration error, not a test case
        if self.tops.index(a) > self.tops.index(b):
            first, then = then, first
        return first, then

    def colocation(self) -> str | None:
        rng = self.rng
        pair = self._pair()
        if pair is None:
            return None
        primary, dependent = pair
        cid = self.fresh("col")
        self.features.add("colocation")
        if rng.random() < 0.15:
            return self._set_constraint("rsc_colocation", cid, [dependent, primary],
                                        f' score="{self.score()}"')
        roles = ""
        if self.top_of(dependent).promotable and rng.random() < 0.5:
            roles += f' rsc-role="{rng.choice(("Promoted", "Unpromoted"))}"'
        if self.top_of(primary).promotable and rng.random() < 0.5:
            roles += f' with-rsc-role="{rng.choice(("Promoted", "Unpromoted"))}"'
        if roles:
            self.features.add("colocation_role")
        return (f'<rsc_colocation id="{cid}" rsc="{dependent}" with-rsc="{primary}" '
                f'score="{self.score()}"{roles}/>')

    def _action(self, rid: str) -> str:
        if self.top_of(rid).promotable and self.rng.random() < 0.5:
            self.features.add("order_role")
            return self.rng.choice(("promote", "demote"))
        return self.rng.choice(("start", "start", "start", "stop"))

    def order(self) -> str | None:
        rng = self.rng
        pair = self._pair()
        if pair is None:
            return None
        first, then = pair
        oid = self.fresh("ord")
        self.features.add("order")
        kind = rng.choice(("Mandatory", "Mandatory", "Mandatory", "Optional", "Serialize"))
        extra = f' kind="{kind}"'
        if kind != "Mandatory":
            self.features.add(f"order_{kind.lower()}")
        if rng.random() < 0.15:
            extra += ' symmetrical="false"'
            self.features.add("order_asymmetric")
        if rng.random() < 0.15 and kind != "Serialize":
            return self._set_constraint("rsc_order", oid, [first, then], extra)
        return (f'<rsc_order id="{oid}" first="{first}" first-action="{self._action(first)}" '
                f'then="{then}" then-action="{self._action(then)}"{extra}/>')

    def _set_constraint(self, tag: str, cid: str, ids: list[str], attrs: str) -> str:
        """Two resource sets; the second set may get an extra member."""
        self.features.add("resource_set")
        rng = self.rng
        sets = [[ids[0]], [ids[1]]]
        spare = [t.id for t in self.tops if t.id not in ids]
        if spare and rng.random() < 0.5:
            sets[rng.randint(0, 1)].append(rng.choice(spare))
        body = ""
        for index, members in enumerate(sets):
            opts = ""
            if rng.random() < 0.3:
                opts += ' sequential="false"'
            if tag == "rsc_order" and rng.random() < 0.2:
                opts += ' require-all="false"'
            refs = "".join(f'<resource_ref id="{m}"/>' for m in members)
            body += f'<resource_set id="{cid}-set{index}"{opts}>{refs}</resource_set>'
        return f'<{tag} id="{cid}"{attrs}>{body}</{tag}>'

    def constraints(self) -> str:
        rng = self.rng
        out = [self.location() for _ in range(rng.randint(0, len(self.tops) + 1))]
        if len(self.tops) >= 2:
            for maker in (self.colocation, self.order):
                for _ in range(rng.randint(0, len(self.tops))):
                    made = maker()
                    if made:
                        out.append(made)
        return "".join(out)

    def nodes_xml(self, extra: dict[str, dict[str, str]]) -> str:
        out = ""
        for name in self.nodes:
            attrs = {"rack": self.racks[name], **extra.get(name, {})}
            if self.strategy != "default" or self.rng.random() < 0.05:
                attrs_u = {"cpu": str(self.rng.randint(1, 6))}
                if self.rng.random() < 0.7:
                    attrs_u["mem"] = str(self.rng.choice((256, 512, 1024)))
                util = nvset("utilization", f"{name}-util", attrs_u)
            else:
                util = ""
            out += (f'<node id="{name}" uname="{name}">'
                    f'{nvset("instance_attributes", f"{name}-ia", attrs)}{util}</node>')
        return out
