"""Rule evaluation: node-attribute, date, resource and operation expressions.

Invariants: evaluation is pure (the context carries "now" and every attribute used);
an unparsable rule element is simply false, never an exception.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping

from pengine.xmlin import Element, duration_ms

UTC = datetime.UTC


class RuleContext:
    """What a rule may look at (read-only once made; params and meta default to empty).

    A plain slotted class rather than a frozen dataclass: one is made per resource and
    operation, and a frozen dataclass's __init__ and its generated methods cost
    crm_simulate start-up time.
    """

    __slots__ = ("meta", "node_attrs", "now", "op_interval_ms", "op_name", "params",
                 "rsc_agent", "rsc_provider", "rsc_standard")

    def __init__(self, now: datetime.datetime, node_attrs: Mapping[str, str] | None = None,
                 rsc_standard: str | None = None, rsc_provider: str | None = None,
                 rsc_agent: str | None = None, op_name: str | None = None,
                 op_interval_ms: int | None = None, params: Mapping[str, str] | None = None,
                 meta: Mapping[str, str] | None = None) -> None:
        self.now, self.node_attrs = now, node_attrs
        self.rsc_standard, self.rsc_provider, self.rsc_agent = (rsc_standard, rsc_provider,
                                                                 rsc_agent)
        self.op_name, self.op_interval_ms = op_name, op_interval_ms
        self.params: Mapping[str, str] = {} if params is None else params
        self.meta: Mapping[str, str] = {} if meta is None else meta


def evaluate(rule: Element, ctx: RuleContext) -> bool:
    """Evaluate a <rule> element (boolean-op and/or over its expressions)."""
    bool_or = (rule.get("boolean-op") or "and").lower() == "or"
    seen = False
    for child in rule:
        if not isinstance(child.tag, str):
            continue
        result = _evaluate_child(child, ctx)
        if result is None:
            continue
        seen = True
        if bool_or and result:
            return True
        if not bool_or and not result:
            return False
    if not seen:
        return True
    return not bool_or


def _evaluate_child(child: Element, ctx: RuleContext) -> bool | None:
    tag = child.tag
    if tag == "rule":
        return evaluate(child, ctx)
    if tag == "expression":
        return _attr_expression(child, ctx)
    if tag == "date_expression":
        return _date_expression(child, ctx.now)
    if tag == "rsc_expression":
        return all(
            want is None or want == have
            for want, have in (
                (child.get("class"), ctx.rsc_standard),
                (child.get("provider"), ctx.rsc_provider),
                (child.get("type"), ctx.rsc_agent),
            )
        )
    if tag == "op_expression":
        if child.get("name") != ctx.op_name:
            return False
        interval = child.get("interval")
        return interval is None or duration_ms(interval) == ctx.op_interval_ms
    if tag == "role_expression":
        return False
    return None


def _attr_expression(expr: Element, ctx: RuleContext) -> bool:
    attr = expr.get("attribute") or ""
    op = (expr.get("operation") or "").lower()
    value = expr.get("value")
    source = (expr.get("value-source") or "literal").lower()
    if source == "param" and value is not None:
        value = ctx.params.get(value)
    elif source == "meta" and value is not None:
        value = ctx.meta.get(value)
    attrs = ctx.node_attrs or {}
    left = attrs.get(attr)
    if op == "defined":
        return left is not None
    if op == "not_defined":
        return left is None
    if left is None:
        return op == "ne"
    if value is None:
        return False
    return _compare(left, value, op, (expr.get("type") or "").lower())


def _compare(left: str, right: str, op: str, kind: str) -> bool:
    if not kind:
        if op in ("eq", "ne"):
            kind = "string"
        else:
            kind = "number" if "." in left or "." in right else "integer"
    cmp = _cmp_typed(left, right, kind)
    return {
        "eq": cmp == 0, "ne": cmp != 0, "lt": cmp < 0, "lte": cmp <= 0,
        "gt": cmp > 0, "gte": cmp >= 0,
    }.get(op, False)


def _cmp_typed(left: str, right: str, kind: str) -> int:
    if kind in ("integer", "number"):
        try:
            if kind == "integer":
                lv: float = int(float(left)) if "." in left else int(left)
                rv: float = int(float(right)) if "." in right else int(right)
            else:
                lv, rv = float(left), float(right)
            return (lv > rv) - (lv < rv)
        except ValueError:
            kind = "string"
    if kind == "version":
        lp = [int(p) if p.isdigit() else 0 for p in left.split(".")]
        rp = [int(p) if p.isdigit() else 0 for p in right.split(".")]
        width = max(len(lp), len(rp))
        lp += [0] * (width - len(lp))
        rp += [0] * (width - len(rp))
        return (lp > rp) - (lp < rp)
    a, b = left.lower(), right.lower()
    return (a > b) - (a < b)


def _date_expression(expr: Element, now: datetime.datetime) -> bool:
    op = (expr.get("operation") or "in_range").lower()
    start = parse_iso(expr.get("start"))
    end = parse_iso(expr.get("end"))
    if op == "gt":
        return start is not None and now > start
    if op == "lt":
        return end is not None and now < end
    if op == "date_spec":
        spec = expr.find("date_spec")
        return spec is not None and _date_spec(spec, now)
    if op == "in_range":
        duration = expr.find("duration")
        if end is None and start is not None and duration is not None:
            end = _add_duration(start, duration)
        if start is not None and now < start:
            return False
        return not (end is not None and now > end)
    return False


_DATE_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})-(\d{2})|-(\d{3})|-W(\d{2})-(\d))?"
    r"(?:[T ](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_iso(text: str | None) -> datetime.datetime | None:
    """Parse the ISO-8601 forms Pacemaker accepts (calendar, ordinal, week dates)."""
    if not text:
        return None
    match = _DATE_RE.match(text.strip())
    if not match:
        return None
    g = match.groups()
    year = int(g[0])
    if g[1]:
        base = datetime.datetime(year, int(g[1]), int(g[2]), tzinfo=UTC)
    elif g[3]:
        base = datetime.datetime(year, 1, 1, tzinfo=UTC) + datetime.timedelta(days=int(g[3]) - 1)
    elif g[4]:
        day = datetime.date.fromisocalendar(year, int(g[4]), int(g[5]))
        base = datetime.datetime(day.year, day.month, day.day, tzinfo=UTC)
    else:
        base = datetime.datetime(year, 1, 1, tzinfo=UTC)
    base += datetime.timedelta(hours=int(g[6] or 0), minutes=int(g[7] or 0), seconds=int(g[8] or 0))
    zone = g[9]
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        base -= sign * offset
    return base


def _add_duration(start: datetime.datetime, duration: Element) -> datetime.datetime:
    years = int(duration.get("years") or 0)
    months = int(duration.get("months") or 0)
    month_index = start.month - 1 + months + 12 * years
    year, month = start.year + month_index // 12, month_index % 12 + 1
    result = start.replace(year=year, month=month)
    delta = datetime.timedelta(
        weeks=int(duration.get("weeks") or 0), days=int(duration.get("days") or 0),
        hours=int(duration.get("hours") or 0), minutes=int(duration.get("minutes") or 0),
        seconds=int(duration.get("seconds") or 0),
    )
    return result + delta


def _in_spec(value: int, spec: str | None) -> bool:
    if spec is None:
        return True
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            low, _, high = part.partition("-")
            if low.isdigit() and high.isdigit() and int(low) <= value <= int(high):
                return True
        elif part.isdigit() and int(part) == value:
            return True
    return False


def _date_spec(spec: Element, now: datetime.datetime) -> bool:
    iso = now.isocalendar()
    fields = {
        "years": now.year, "months": now.month, "monthdays": now.day,
        "hours": now.hour, "minutes": now.minute, "seconds": now.second,
        "yeardays": now.timetuple().tm_yday, "weekyears": iso[0], "weeks": iso[1],
        "weekdays": iso[2],
    }
    return all(_in_spec(value, spec.get(name)) for name, value in fields.items())
