"""Unpack <resources>: primitives, groups and clones with their meta, params and ops.

Invariants: the result is a tuple of frozen RscConfig in Pacemaker's resource order
(document order, then stable-sorted by priority, highest first); children keep their
document order. Meta precedence follows Pacemaker: element attributes, own meta,
ancestors' meta (nearest first), rsc_defaults, then the parent's table.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from messaging.errors import ValidationError
from messaging.record import Record
from messaging.types import Role
from pengine.rules import RuleContext, evaluate
from pengine.scores import INF, char2score
from pengine.unpack_options import Options
from pengine.xmlin import Element, duration_ms, is_true, nvpairs, where

VARIANTS = {"primitive": "primitive", "group": "group", "clone": "clone", "master": "clone"}


class OpConfig(Record):
    """One configured <op>."""

    __slots__ = ("enabled", "id", "interval_ms", "meta", "name", "on_fail", "params", "role",
                 "timeout_ms")

    def __init__(self, id: str, name: str, interval_ms: int, role: Role | None, on_fail: str | None,
                 timeout_ms: int, enabled: bool, params: Mapping[str, str],
                 meta: Mapping[str, str]) -> None:
        self.id = id
        self.name = name
        self.interval_ms = interval_ms
        self.role = role
        self.on_fail = on_fail
        self.timeout_ms = timeout_ms
        self.enabled = enabled
        self.params = params
        self.meta = meta


@dataclass(frozen=True)
class RscConfig:
    """A configured (or orphaned) resource."""

    id: str
    kind: str
    parent: str | None
    children: tuple[str, ...]
    standard: str
    provider: str | None
    agent_type: str
    meta: Mapping[str, str]
    params: Mapping[str, str]
    ops: tuple[OpConfig, ...]
    orphan: bool = False
    promotable: bool = False
    element: Element | None = field(default=None, repr=False, compare=False)

    @property
    def agent(self) -> str:
        if self.provider:
            return f"{self.standard}:{self.provider}:{self.agent_type}"
        return f"{self.standard}:{self.agent_type}"

    def meta_int(self, name: str, default: int) -> int:
        value = self.meta.get(name)
        return default if value is None or value == "default" else char2score(value)

    @property
    def priority(self) -> int:
        return self.meta_int("priority", 0)

    @property
    def stickiness(self) -> int:
        return self.meta_int("resource-stickiness", 0)

    @property
    def migration_threshold(self) -> int:
        value = self.meta_int("migration-threshold", INF)
        return 1 if value < 0 else value

    @property
    def failure_timeout_s(self) -> int:
        return duration_ms(self.meta.get("failure-timeout"), 0) // 1000

    @property
    def target_role(self) -> Role | None:
        text = self.meta.get("target-role")
        if not text or text.lower() in ("default", "started"):
            return None if not text or text.lower() == "default" else Role.STARTED
        try:
            return Role.parse(text)
        except ValueError:
            return None

    @property
    def base_id(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def unique(self) -> bool:
        return is_true(self.meta.get("globally-unique"), False)

    @property
    def clone_max(self) -> int:
        return len(self.children)

    @property
    def clone_node_max(self) -> int:
        if not self.unique:
            return 1
        return max(1, meta_count(self.meta, "clone-node-max", 1))

    @property
    def interleave(self) -> bool:
        return is_true(self.meta.get("interleave"), False)

    @property
    def multiple_active(self) -> str:
        return (self.meta.get("multiple-active") or "stop_start").lower()

    @property
    def critical(self) -> bool:
        return is_true(self.meta.get("critical"), True)


class Defaults(Record):
    """rsc_defaults / op_defaults blocks (evaluated per resource / op)."""

    __slots__ = ("op", "rsc")

    def __init__(self, rsc: tuple[Element, ...], op: tuple[Element, ...]) -> None:
        self.rsc = rsc
        self.op = op


def unpack_resources(root: Element, options: Options, ctx: RuleContext) -> tuple[RscConfig, ...]:
    """All configured resources: top-level order by priority, then their descendants."""
    section = root.find("configuration/resources")
    defaults = Defaults(
        tuple(root.iterfind("configuration/rsc_defaults/meta_attributes")),
        tuple(root.iterfind("configuration/op_defaults/meta_attributes")),
    )
    out: list[RscConfig] = []
    tops: list[RscConfig] = []
    node_count = len(root.findall("configuration/nodes/node"))
    if section is not None:
        for el in section:
            if isinstance(el.tag, str) and el.tag in VARIANTS:
                top_list: list[RscConfig] = []
                _unpack_one(el, None, [], {}, defaults, ctx, _Shape(node_count, ""), top_list)
                tops.append(top_list[0])
                out.extend(top_list)
    order = {r.id: i for i, r in enumerate(sorted(tops, key=lambda r: -r.priority))}
    top_of = {r.id: r.id for r in tops}
    for rsc in out:
        if rsc.parent is not None:
            top_of[rsc.id] = top_of[rsc.parent]
    out.sort(key=lambda r: order[top_of[r.id]])
    seen: set[str] = set()
    for rsc in out:
        if rsc.id in seen:
            raise ValidationError(f"duplicate resource id {rsc.id!r}", location=_loc(rsc))
        seen.add(rsc.id)
    return tuple(out)


def _loc(rsc: RscConfig) -> object:
    return where(rsc.element) if rsc.element is not None else None


class _Shape:
    """How many nodes a resource spans and the instance suffix its ids carry.

    Plain rather than a dataclass (start-up cost); only read after construction.
    """

    __slots__ = ("node_count", "suffix")

    def __init__(self, node_count: int, suffix: str) -> None:
        self.node_count = node_count
        self.suffix = suffix


def _meta(el: Element, ancestors: list[Element], parent_meta: dict[str, str],
          defaults: Defaults, rctx: RuleContext) -> dict[str, str]:
    """A resource's meta attributes: its XML attributes, its own and its ancestors' meta
    sets, rsc_defaults, then what its parent passes down where still unset."""
    meta: dict[str, str] = {str(k): str(v) for k, v in el.attrib.items()}
    nvpairs(el.findall("meta_attributes"), lambda r: evaluate(r, rctx), meta)
    for anc in ancestors:
        nvpairs(anc.findall("meta_attributes"), lambda r: evaluate(r, rctx), meta)
    nvpairs(defaults.rsc, lambda r: evaluate(r, rctx), meta)
    for key, value in parent_meta.items():
        meta.setdefault(key, value)
    return meta


def _unpack_one(
    el: Element, parent: str | None, ancestors: list[Element], parent_meta: dict[str, str],
    defaults: Defaults, ctx: RuleContext, shape: _Shape, out: list[RscConfig],
) -> None:
    base_id = el.get("id")
    if not base_id:
        raise ValidationError(f"<{el.tag}> without an id", location=where(el))
    rid = base_id + shape.suffix
    kind = VARIANTS[el.tag]
    standard = el.get("class") or ""
    provider = el.get("provider")
    agent_type = el.get("type") or ""
    rctx = RuleContext(now=ctx.now, rsc_standard=standard, rsc_provider=provider,
                       rsc_agent=agent_type)
    meta = _meta(el, ancestors, parent_meta, defaults, rctx)
    params = _params([el, *ancestors], rctx)
    ops = tuple(_unpack_ops(el, defaults, rctx)) if kind == "primitive" else ()
    child_els = [c for c in el if isinstance(c.tag, str) and c.tag in VARIANTS]
    if kind == "primitive" and not standard:
        raise ValidationError(f"primitive {rid!r} has no class", location=where(el))
    promotable = kind == "clone" and (el.tag == "master" or is_true(meta.get("promotable")))
    if kind == "clone":
        meta.setdefault("resource-stickiness", "1")
        child_els = child_els[:1]
        count = meta_count(meta, "clone-max", shape.node_count)
        if is_true(meta.get("globally-unique")) and _forced_anonymous(child_els):
            # Pacemaker ignores globally-unique for agents that cannot be unique (lsb,
            # service, systemd, ...) and caps such a clone at one instance per node.
            meta["globally-unique"] = "false"
            count = min(count, shape.node_count)
        suffixes = [f":{i}" for i in range(count)]
    else:
        suffixes = [shape.suffix] * len(child_els)
    own_meta = dict(meta)
    for key in ("id", "class", "provider", "type", "description"):
        own_meta.pop(key, None)
    if kind == "clone":
        child_els = child_els * len(suffixes)
    cfg = RscConfig(
        id=rid, kind=kind, parent=parent,
        children=tuple((c.get("id") or "") + s for c, s in zip(child_els, suffixes, strict=True)),
        standard=standard, provider=provider, agent_type=agent_type,
        meta=meta, params=params, ops=ops, promotable=promotable, element=el,
    )
    out.append(cfg)
    for child, suffix in zip(child_els, suffixes, strict=True):
        _unpack_one(child, rid, [el, *ancestors], own_meta, defaults, ctx,
                    _Shape(shape.node_count, suffix), out)


_ANONYMOUS_ONLY = ("lsb", "service", "systemd", "upstart", "nagios")


def _forced_anonymous(child_els: list[Element]) -> bool:
    return any((p.get("class") or "").lower() in _ANONYMOUS_ONLY
               for c in child_els for p in c.iter("primitive"))


def _params(lineage: list[Element], rctx: RuleContext) -> dict[str, str]:
    """Instance attributes; parents' ones are inherited (get_rsc_attributes)."""
    params: dict[str, str] = {}
    for el in lineage:
        nvpairs(el.findall("instance_attributes"), lambda r: evaluate(r, rctx), params)
    return params


def params_on_node(rsc: RscConfig, node_attrs: Mapping[str, str],
                   now: datetime.datetime) -> Mapping[str, str]:
    """pe_rsc_params(rsc, node): instance attributes with their rules evaluated for a node
    (a value-source="param" location rule compares with these, node by node: value-source)."""
    if rsc.element is None or rsc.element.find("instance_attributes/rule") is None:
        return rsc.params
    lineage = [rsc.element]
    parent = rsc.element.getparent()
    while parent is not None and parent.tag in VARIANTS:
        lineage.append(parent)
        parent = parent.getparent()
    return _params(lineage, RuleContext(now=now, node_attrs=node_attrs,
                                        rsc_standard=rsc.standard, rsc_provider=rsc.provider,
                                        rsc_agent=rsc.agent_type))


def template_members(clone: RscConfig) -> list[str]:
    """Ids of the primitives a clone's instances are made of (from its template)."""
    if clone.element is None:
        return []
    for child in clone.element:
        if child.tag == "primitive":
            return [child.get("id") or ""]
        if child.tag == "group":
            return [p.get("id") or "" for p in child.iterfind("primitive")]
    return []


def meta_count(meta: Mapping[str, str], name: str, default: int) -> int:
    value = meta.get(name)
    if value is None:
        return default
    try:
        return max(0, int(value))
    except ValueError:
        return default


def _unpack_ops(el: Element, defaults: Defaults, rctx: RuleContext) -> list[OpConfig]:
    result = []
    for op in el.iterfind("operations/op"):
        name = op.get("name") or ""
        interval = duration_ms(op.get("interval"), 0)
        octx = RuleContext(now=rctx.now, rsc_standard=rctx.rsc_standard,
                           rsc_provider=rctx.rsc_provider, rsc_agent=rctx.rsc_agent,
                           op_name=name, op_interval_ms=interval)
        meta: dict[str, str] = {str(k): str(v) for k, v in op.attrib.items()}
        check = _checker(octx)
        nvpairs(op.findall("meta_attributes"), check, meta)
        nvpairs(defaults.op, check, meta)
        role_text = meta.get("role")
        try:
            role = Role.parse(role_text) if role_text else None
        except ValueError:
            role = None
        result.append(OpConfig(
            id=op.get("id") or "", name=name, interval_ms=interval, role=role,
            on_fail=(meta.get("on-fail") or None),
            timeout_ms=duration_ms(meta.get("timeout"), 20000),
            enabled=is_true(meta.get("enabled"), True),
            params=nvpairs(op.findall("instance_attributes"), check),
            meta=meta,
        ))
    return result


def _checker(ctx: RuleContext) -> Callable[[Element], bool]:
    return lambda rule: evaluate(rule, ctx)


def resource_requires(rsc: RscConfig, options: Options, any_unfencing: bool) -> str:
    """The effective `requires` of a primitive."""
    value = (rsc.meta.get("requires") or "").lower()
    if rsc.standard == "stonith":
        return "quorum" if value not in ("nothing",) else value
    if value in ("nothing", "quorum", "unfencing"):
        return value
    if value == "fencing":
        return "fencing" if options.stonith_enabled else "quorum"
    if any_unfencing:
        return "unfencing"
    if options.stonith_enabled:
        return "fencing"
    if options.no_quorum_policy == "ignore":
        return "nothing"
    return "quorum"
