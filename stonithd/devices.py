"""Fence devices and fencing topology, read from CIB XML by one pure function.

`load_config(cib_xml, source=..., local_node=...)` turns a CIB document into a frozen
`FencingConfig`: every `<primitive class="stonith">` becomes a `Device` (its `pcmk_*`
instance attributes interpreted, the rest passed to the agent), every `<fencing-level>` a
`Level`. It never touches disk or the network, so the daemon can call it again whenever the
CIB changes and swap the result in atomically; on bad input it raises `ConfigError` naming
the element and nothing of the old configuration is replaced.

Every device is kept (an origin needs the settings of devices other nodes run), but only
those in `runnable` may be executed by `local_node`: a device disabled with meta
target-role=Stopped, or with a `-INFINITY` rsc_location for that node, is not runnable there
(Pacemaker rule).
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lxml import etree

from messaging.errors import ConfigError, Location

_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "msec": 0.001, "us": 1e-6,
          "usec": 1e-6, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
ACTIONS = ("reboot", "off", "on", "list", "monitor", "status")
DEFAULT_RETRIES = 2


class HostCheck(enum.Enum):
    """How a device decides whether it can fence a node (pcmk_host_check)."""

    STATIC_LIST = "static-list"
    DYNAMIC_LIST = "dynamic-list"
    STATUS = "status"
    NONE = "none"


def parse_duration(text: str, where: Location) -> float:
    """Pacemaker time spec ("60", "60s", "500ms", "2min", "1h") to seconds."""
    match = _DURATION.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigError(f"{text!r} is not a duration (like 30s, 500ms, 2min)", location=where)
    return float(match.group(1)) * _UNITS[unit]


def parse_host_list(text: str) -> tuple[str, ...]:
    """`pcmk_host_list`: names separated by spaces, commas or semicolons."""
    return tuple(n for n in re.split(r"[\s,;]+", text) if n)


def parse_host_map(text: str, where: Location) -> tuple[tuple[str, str], ...]:
    """`pcmk_host_map` ("node1:1;node2:2,3"): entries split by ';' or whitespace."""
    pairs: list[tuple[str, str]] = []
    for entry in re.split(r"[;\s]+", text):
        if not entry:
            continue
        match = re.fullmatch(r"([^:=]+)[:=](.+)", entry)
        if match is None:
            raise ConfigError(f"pcmk_host_map entry {entry!r} is not node:port", location=where)
        pairs.append((match.group(1), match.group(2)))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class Device:
    """One stonith-class primitive, its pcmk_* settings interpreted."""

    id: str
    agent: str
    params: tuple[tuple[str, str], ...] = ()
    host_list: tuple[str, ...] = ()
    host_map: tuple[tuple[str, str], ...] = ()
    host_check: HostCheck | None = None  # None: Pacemaker's default, see resolved_host_check
    host_argument: str = "port"
    delay_base: float = 0.0
    delay_base_map: tuple[tuple[str, float], ...] = ()
    delay_max: float = 0.0
    action_map: tuple[tuple[str, str], ...] = ()
    timeouts: tuple[tuple[str, float], ...] = ()
    retries: tuple[tuple[str, int], ...] = ()

    def resolved_host_check(self, agent_actions: frozenset[str] | None) -> HostCheck:
        """Explicit pcmk_host_check, else static-list with a list/map, else by agent actions."""
        if self.host_check is not None:
            return self.host_check
        if self.host_list or self.host_map:
            return HostCheck.STATIC_LIST
        if agent_actions is None or "list" in agent_actions:
            return HostCheck.DYNAMIC_LIST
        return HostCheck.STATUS if "status" in agent_actions else HostCheck.NONE

    def in_static_list(self, target: str) -> bool:
        return target in self.host_list or any(node == target for node, _ in self.host_map)

    def port_for(self, target: str) -> str:
        """The plug for `target`: from pcmk_host_map, else the node name itself."""
        return next((port for node, port in self.host_map if node == target), target)

    def agent_action(self, action: str) -> str:
        """The agent's action name for `action` (pcmk_<action>_action)."""
        return dict(self.action_map).get(action, action)

    def timeout_for(self, action: str, default: float) -> float:
        return dict(self.timeouts).get(action, default)

    def retries_for(self, action: str) -> int:
        return dict(self.retries).get(action, DEFAULT_RETRIES)

    def delay_for(self, target: str, rng: random.Random) -> float:
        """Static delay plus a random part, the sum kept at or below pcmk_delay_max."""
        base = dict(self.delay_base_map).get(target, self.delay_base)
        if self.delay_max > base:
            return base + rng.uniform(0.0, self.delay_max - base)
        return base

    def agent_input(self, action: str, target: str | None) -> tuple[tuple[str, str], ...]:
        """The name=value pairs a fencer writes to the agent's stdin."""
        pairs = [("action", self.agent_action(action)), *self.params]
        if target is not None:
            pairs.append(("nodename", target))
            names = {name for name, _ in self.params}
            if self.host_argument != "none" and self.host_argument not in names:
                pairs.append((self.host_argument, self.port_for(target)))
        return tuple(pairs)


@dataclass(frozen=True, slots=True)
class Level:
    """One fencing-level: every device must succeed; levels are tried by index."""

    index: int
    devices: tuple[str, ...]
    target: str | None = None
    pattern: str | None = None
    attribute: tuple[str, str] | None = None

    @property
    def spec(self) -> tuple[int, str]:
        """Which kind of target this level names: 0 exact, 1 pattern, 2 attribute."""
        if self.target is not None:
            return (0, self.target)
        if self.pattern is not None:
            return (1, self.pattern)
        assert self.attribute is not None
        return (2, "=".join(self.attribute))

    def matches(self, node: str, attributes: Mapping[str, str]) -> bool:
        if self.target is not None:
            return node == self.target
        if self.pattern is not None:
            return re.search(self.pattern, node) is not None
        assert self.attribute is not None
        return attributes.get(self.attribute[0]) == self.attribute[1]


@dataclass(frozen=True, slots=True)
class FencingConfig:
    """Everything stonithd needs from the CIB, immutable."""

    devices: Mapping[str, Device] = field(default_factory=lambda: MappingProxyType({}))
    levels: tuple[Level, ...] = ()
    node_attributes: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({}))
    stonith_timeout: float = 60.0
    stonith_action: str = "reboot"
    runnable: frozenset[str] = frozenset()

    def levels_for(self, target: str) -> tuple[Level, ...]:
        """The topology for `target`: an exact-name topology first, then the first matching
        pattern, then the first matching attribute (one target spec only), by index."""
        attributes = self.node_attributes.get(target, {})
        matching = [lvl for lvl in self.levels if lvl.matches(target, attributes)]
        if not matching:
            return ()
        chosen = min(matching, key=lambda lvl: (lvl.spec[0], self.levels.index(lvl))).spec
        return tuple(sorted((lvl for lvl in matching if lvl.spec == chosen),
                            key=lambda lvl: lvl.index))


def _line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def _nvpairs(element: etree._Element, tag: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for block in element.findall(tag):
        for pair in block.findall("nvpair"):
            name = pair.get("name")
            if name and name not in values:
                values[name] = pair.get("value", "")
    return values


def _device(primitive: etree._Element, source: str) -> Device:
    rid = primitive.get("id") or ""
    where = Location(source, _line(primitive), f"primitive[@id={rid!r}]")
    agent = primitive.get("type") or ""
    if not rid or not re.fullmatch(r"fence_[A-Za-z0-9_.-]+", agent):
        raise ConfigError(f"stonith primitive needs an id and a fence_* type, got {agent!r}",
                          location=where)
    attrs = _nvpairs(primitive, "instance_attributes")
    check = attrs.get("pcmk_host_check")
    try:
        host_check = HostCheck(check) if check else None
    except ValueError:
        raise ConfigError(f"pcmk_host_check={check!r} is not one of "
                          f"{', '.join(h.value for h in HostCheck)}", location=where) from None
    delay_text = attrs.get("pcmk_delay_base", "0")
    base = 0.0
    base_map: tuple[tuple[str, float], ...] = ()
    if ":" in delay_text:
        base_map = tuple((n, parse_duration(v, where))
                         for n, v in parse_host_map(delay_text, where))
    else:
        base = parse_duration(delay_text, where)
    return Device(
        id=rid, agent=agent,
        params=tuple((k, v) for k, v in attrs.items() if not k.startswith("pcmk_")),
        host_list=parse_host_list(attrs.get("pcmk_host_list", "")),
        host_map=parse_host_map(attrs.get("pcmk_host_map", ""), where),
        host_check=host_check,
        host_argument=attrs.get("pcmk_host_argument", "port") or "port",
        delay_base=base, delay_base_map=base_map,
        delay_max=parse_duration(attrs.get("pcmk_delay_max", "0"), where),
        action_map=tuple((a, attrs[f"pcmk_{a}_action"]) for a in ACTIONS
                         if attrs.get(f"pcmk_{a}_action")),
        timeouts=tuple((a, parse_duration(attrs[f"pcmk_{a}_timeout"], where)) for a in ACTIONS
                       if attrs.get(f"pcmk_{a}_timeout")),
        retries=tuple((a, _int(attrs[f"pcmk_{a}_retries"], where)) for a in ACTIONS
                      if attrs.get(f"pcmk_{a}_retries")),
    )


def _int(text: str, where: Location) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not an integer", location=where) from None


def _level(element: etree._Element, source: str) -> Level:
    lid = element.get("id", "")
    where = Location(source, _line(element), f"fencing-level[@id={lid!r}]")
    index = _int(element.get("index", ""), where)
    if not 1 <= index <= 9:
        raise ConfigError(f"fencing-level index {index} is not within 1..9", location=where)
    devices = tuple(d for d in re.split(r"[\s,]+", element.get("devices", "")) if d)
    if not devices:
        raise ConfigError("fencing-level lists no devices", location=where)
    target, pattern = element.get("target"), element.get("target-pattern")
    attr_name, attr_value = element.get("target-attribute"), element.get("target-value")
    attribute = (attr_name, attr_value or "") if attr_name else None
    if sum(x is not None for x in (target, pattern, attribute)) != 1:
        raise ConfigError("fencing-level needs exactly one of target, target-pattern, "
                          "target-attribute", location=where)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ConfigError(f"target-pattern {pattern!r}: {error}", location=where) from None
    return Level(index, devices, target, pattern, attribute)


def _banned(root: etree._Element, rid: str, node: str) -> bool:
    """A -INFINITY rsc_location keeps `node` from running device `rid`."""
    return any(loc.get("rsc") == rid and loc.get("node") == node
               and loc.get("score", "").strip().upper() in ("-INFINITY", "-INF")
               for loc in root.iterfind(".//constraints/rsc_location"))


def _enabled(primitive: etree._Element) -> bool:
    return _nvpairs(primitive, "meta_attributes").get("target-role", "").lower() != "stopped"


def _parse(cib_xml: str | bytes, source: str) -> etree._Element:
    data = cib_xml.encode() if isinstance(cib_xml, str) else cib_xml
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        raise ConfigError(f"not well-formed XML: {error.msg}",
                          location=Location(source, line)) from None
    if root.tag != "cib":
        raise ConfigError(f"root element is <{root.tag}>, expected <cib>",
                          location=Location(source, _line(root)))
    return root


def load_config(cib_xml: str | bytes, *, source: str = "<cib>",
                local_node: str | None = None) -> FencingConfig:
    """Build the fencing configuration from a CIB document (pure).

    Args:
        cib_xml: the whole CIB as text or bytes.
        source: name used in error locations (the file name).
        local_node: when given, devices this node may not run are left out of `runnable`.

    Raises:
        ConfigError: the XML or a device/level definition cannot be used.
    """
    root = _parse(cib_xml, source)
    devices: dict[str, Device] = {}
    runnable: set[str] = set()
    for primitive in root.iterfind(".//configuration/resources//primitive[@class='stonith']"):
        device = _device(primitive, source)
        if device.id in devices:
            raise ConfigError(f"duplicate stonith device id {device.id!r}",
                              location=Location(source, _line(primitive)))
        devices[device.id] = device
        if local_node is None or (_enabled(primitive) and
                                  not _banned(root, device.id, local_node)):
            runnable.add(device.id)
    levels = tuple(_level(e, source) for e in
                   root.iterfind(".//configuration/fencing-topology/fencing-level"))
    nodes = {}
    for node in root.iterfind(".//configuration/nodes/node"):
        name = node.get("uname") or node.get("id") or ""
        nodes[name] = MappingProxyType(_nvpairs(node, "instance_attributes"))
    options: dict[str, str] = {}
    for props in root.iterfind(".//configuration/crm_config/cluster_property_set"):
        for pair in props.iterfind("nvpair"):
            options.setdefault(pair.get("name", ""), pair.get("value", ""))
    where = Location(source, None, "crm_config")
    return FencingConfig(
        devices=MappingProxyType(devices), levels=levels,
        node_attributes=MappingProxyType(nodes),
        stonith_timeout=parse_duration(options.get("stonith-timeout", "60s"), where),
        stonith_action=options.get("stonith-action", "reboot"),
        runnable=frozenset(runnable),
    )
