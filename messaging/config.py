"""ha.cf: Heartbeat's cluster configuration file, parsed into a typed `HaConfig`.

A Heartbeat user's existing ha.cf is accepted unchanged: every directive Heartbeat 3
knows is recognised; the ones hacluster acts on are typed fields, the legacy ones that have
no meaning here (ping, auto_failback, apiauth, ...) are kept in `legacy` so the
service can log that they are ignored; directives of other daemons sharing the file
(ccm's quorum settings, `FOREIGN_DIRECTIVES`) are kept unparsed in `foreign`. An unknown
directive or a bad value is a `ConfigError` naming file and line. Extensions of ours are
named so they cannot clash with Heartbeat's (`cluster_name`, `state_dir`,
`max_message`); see docs/ha.cf.md.

Every value is validated once, here, with bounds (errors name file:line): times are
plain ASCII decimals with an optional `s`/`ms` suffix; integers are ASCII digits; node names
are host names; interface names are Linux interface names.

Invariants of a returned HaConfig: times are float seconds with 10 ms <= keepalive <= 1 h,
deadtime > 2 x keepalive and <= 1 day, keepalive <= warntime < deadtime, deadtime <=
initdead <= 1 day; at least one medium; nodes are unique host names; the own-address
filtering of ucast lines happens later in the service (`HaConfig.media_for(own_addresses)`),
so one file serves every node.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from messaging.errors import ConfigError, Location
from messaging.state_dir import DEFAULT_STATE_DIR as DEFAULT_STATE_DIR
from messaging.state_dir import STATE_DIR_ENV as STATE_DIR_ENV
from messaging.state_dir import default_state_dir as default_state_dir

DEFAULT_PORT = 694
DEFAULT_CLUSTER = "hacluster"
DEFAULT_MAX_MESSAGE = 1 << 20

MediumKind = Literal["bcast", "mcast", "ucast"]
Autojoin = Literal["none", "other", "any"]
CrmMode = Literal["off", "on", "respawn"]

# Directives Heartbeat accepts that hacluster parses and then ignores (kept in `legacy`).
LEGACY_DIRECTIVES = frozenset({
    "serial", "baud", "mcast6", "ucast6", "ping", "ping_group", "deadping", "hbaping",
    "auto_failback", "nice_failback", "crm_daemon_dir", "crmd_spawns_pengine", "apiauth",
    "use_logd", "conn_logd_time", "debug", "compression", "compression_threshold",
    "traditional_compression", "msgfmt", "hbgenmethod", "hopfudge",
    "watchdog", "stonith", "stonith_host", "coredumps", "uuidfrom", "env",
    "max_rexmit_delay", "coreroot", "log_badpack", "use_apphbd", "normalpoll", "quorum_server",
})


# Directives owned and validated by other daemons reading the same file (ccm's quorum
# settings). Heartbeat keeps them in `HaConfig.foreign` (name, line, words) untouched.
FOREIGN_DIRECTIVES = frozenset({
    "expected_votes", "quorum_votes", "two_node", "wait_for_all", "last_man_standing",
    "last_man_standing_window", "auto_tie_breaker", "auto_tie_breaker_node",
})


@dataclass(frozen=True, slots=True)
class Medium:
    """One medium line: a link named after its interface, and where its packets go."""

    kind: MediumKind
    interface: str
    port: int
    address: str = ""  # bcast: "" (interface broadcast); mcast: group; ucast: peer
    ttl: int = 1
    line: int = 0

    @property
    def link(self) -> str:
        """The link name nodes report per-link status under (the interface name)."""
        return self.interface


@dataclass(frozen=True, slots=True)
class Respawn:
    """A `respawn <user> <program> [args]` line."""

    user: str
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HaConfig:
    """Everything hacluster takes from ha.cf."""

    source: str = "<defaults>"
    keepalive: float = 1.0
    deadtime: float = 30.0
    warntime: float = 15.0
    initdead: float = 30.0
    udpport: int = DEFAULT_PORT
    media: tuple[Medium, ...] = ()
    nodes: tuple[str, ...] = ()
    autojoin: Autojoin = "none"
    crm: CrmMode = "off"
    respawn: tuple[Respawn, ...] = ()
    logfile: str | None = None
    debugfile: str | None = None
    logfacility: str | None = None
    cluster_name: str = DEFAULT_CLUSTER
    state_dir: str = DEFAULT_STATE_DIR
    max_message: int = DEFAULT_MAX_MESSAGE
    realtime: bool = True  # Heartbeat's default: its daemons run SCHED_RR, memory locked
    rtprio: int = 1  # Heartbeat's default: the lowest SCHED_RR priority
    legacy: tuple[tuple[str, int], ...] = ()
    foreign: tuple[tuple[str, int, tuple[str, ...]], ...] = ()

    @property
    def links(self) -> tuple[str, ...]:
        """Link names in file order, each once."""
        return tuple(dict.fromkeys(m.link for m in self.media))

    def media_for(self, own_addresses: Iterable[str]) -> tuple[Medium, ...]:
        """The media this node uses: ucast lines naming one of our own addresses dropped."""
        own = {_normal_ip(a) for a in own_addresses}
        return tuple(m for m in self.media
                     if not (m.kind == "ucast" and _normal_ip(m.address) in own))


def _normal_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


# Heartbeat's time syntax: a decimal number of seconds, or of milliseconds with `ms`.
# Python's float() would also take '1e-9', 'inf', '1_0' and non-ASCII digits.
_TIME = re.compile(r"(\d{1,12}(?:\.\d{0,9})?|\.\d{1,9})(ms|s)?", re.ASCII | re.IGNORECASE)
MIN_KEEPALIVE = 0.01   # below 10 ms the heartbeat loop would burn a whole core
MAX_KEEPALIVE = 3600.0
MAX_DEADTIME = 86400.0  # a day: beyond that "dead" detection means nothing
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?", re.ASCII)
_INTERFACE = re.compile(r"[A-Za-z0-9_.:@-]{1,15}", re.ASCII)


def parse_time(text: str) -> float:
    """A Heartbeat time value: seconds (decimals allowed) or milliseconds with `ms`."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time (seconds, or milliseconds with 'ms')")
    scale = 0.001 if (match.group(2) or "").lower() == "ms" else 1.0
    return float(match.group(1)) * scale


def ascii_int(text: str, low: int, high: int, what: str) -> int:
    """An integer written in ASCII digits within [low, high] (str.isdigit takes '²')."""
    if not (text.isascii() and text.isdigit()) or len(text) > 12 \
            or not low <= int(text) <= high:
        raise ValueError(f"{text!r} is not {what} ({low}-{high})")
    return int(text)


def check_node_name(name: str) -> str:
    """A node name must be a host name: dot-separated labels of letters, digits, '-' and
    '_' (1-63 characters, no leading or trailing '-'), 253 characters at most. Names reach
    file paths, logs and the CIB, so separators and control characters are refused."""
    if not name or len(name) > 253 or not all(_HOST_LABEL.fullmatch(label)
                                              for label in name.split(".")):
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise ValueError(f"{shown!r} is not a valid node name (a host name: labels of "
                         "letters, digits, '-' and '_', at most 63 characters each, "
                         "253 in all)")
    return name


def _interface(name: str) -> str:
    if not _INTERFACE.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{name!r} is not a network interface name")
    return name


@dataclass
class _Builder:
    """Mutable accumulator used only while reading one file."""

    source: str
    values: dict[str, object] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    media: list[Medium] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    respawn: list[Respawn] = field(default_factory=list)
    legacy: list[tuple[str, int]] = field(default_factory=list)
    foreign: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)
    udpport: int = DEFAULT_PORT


def _one(args: list[str], what: str) -> str:
    if len(args) != 1:
        raise ValueError(f"{what} takes exactly one value, got {len(args)}")
    return args[0]


def _port(text: str) -> int:
    return ascii_int(text, 1, 65535, "a UDP port")


def _ip(text: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 {what} address") from None


_TIME_BOUNDS = {"keepalive": (MIN_KEEPALIVE, MAX_KEEPALIVE),
                "deadtime": (2 * MIN_KEEPALIVE, MAX_DEADTIME),
                "warntime": (MIN_KEEPALIVE, MAX_DEADTIME),
                "initdead": (2 * MIN_KEEPALIVE, MAX_DEADTIME)}


def _set_time(name: str) -> Callable[[_Builder, list[str], int], None]:
    low, high = _TIME_BOUNDS[name]

    def apply(b: _Builder, args: list[str], line: int) -> None:
        seconds = parse_time(_one(args, name))
        if not low <= seconds <= high:
            raise ValueError(f"{seconds:g}s is out of bounds ({low * 1000:g}ms-{high:g}s)")
        b.values[name] = seconds
        b.lines[name] = line
    return apply


def _udpport(b: _Builder, args: list[str], line: int) -> None:
    b.udpport = _port(_one(args, "udpport"))
    b.values["udpport"] = b.udpport


def _bcast(b: _Builder, args: list[str], line: int) -> None:
    if not args:
        raise ValueError("bcast needs at least one interface")
    b.media += [Medium("bcast", _interface(iface), b.udpport, line=line) for iface in args]


def _mcast(b: _Builder, args: list[str], line: int) -> None:
    if len(args) != 5:
        raise ValueError("mcast takes: <interface> <group> <port> <ttl> <loop>")
    iface, group, port, ttl, loop = args
    if not ipaddress.IPv4Address(_ip(group, "multicast")).is_multicast:
        raise ValueError(f"{group} is not a multicast group (224.0.0.0/4)")
    hops = ascii_int(ttl, 1, 255, "an mcast ttl")
    if loop not in ("0", "1"):
        raise ValueError(f"mcast loop {loop!r} must be 0 or 1")
    b.media.append(Medium("mcast", _interface(iface), _port(port), group, hops, line))


def _ucast(b: _Builder, args: list[str], line: int) -> None:
    if len(args) != 2:
        raise ValueError("ucast takes: <interface> <peer address or host name>")
    b.media.append(Medium("ucast", _interface(args[0]), b.udpport, _peer(args[1]), line=line))


def _peer(text: str) -> str:
    """A ucast peer: an IPv4 address, or a host name that heartbeat resolves when it starts
    (`resolve_ucast`), as Heartbeat's ucast plugin resolves names with gethostbyname."""
    if all(label.isdigit() for label in text.split(".")):
        return _ip(text, "peer")  # '10.1.2' is a typo, not a host name
    try:
        return check_node_name(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither an IPv4 peer address nor a host name") from None


def is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def resolve_ucast(config: HaConfig, lookup: Callable[[str], str]) -> HaConfig:
    """`config` with each ucast host name replaced by the IPv4 address `lookup` gives for it.

    Raises:
        ConfigError: naming the ucast line, when `lookup` fails (OSError or ValueError) or
            returns something that is not an IPv4 address.
    """
    media = []
    for medium in config.media:
        if medium.kind == "ucast" and not is_ipv4(medium.address):
            try:
                address = _ip(lookup(medium.address), "peer")
            except (OSError, ValueError) as error:
                raise ConfigError(f"ucast peer {medium.address!r} does not resolve to an IPv4 "
                                  f"address ({error})",
                                  location=Location(config.source, medium.line)) from None
            medium = replace(medium, address=address)
        media.append(medium)
    return replace(config, media=tuple(media))


def _node(b: _Builder, args: list[str], line: int) -> None:
    if not args:
        raise ValueError("node needs at least one node name")
    for name in args:
        check_node_name(name)
        if name in b.nodes:
            raise ValueError(f"node {name!r} is listed twice")
        b.nodes.append(name)


def _choice(name: str, options: dict[str, str]) -> Callable[[_Builder, list[str], int], None]:
    def apply(b: _Builder, args: list[str], line: int) -> None:
        word = _one(args, name).lower()
        if word not in options:
            raise ValueError(f"{name} must be one of {', '.join(sorted(options))}, not {word!r}")
        b.values["crm" if name == "pacemaker" else name] = options[word]
    return apply


def _realtime(b: _Builder, args: list[str], line: int) -> None:
    word = _one(args, "realtime").lower()
    if word not in _BOOLEAN_WORDS:
        raise ValueError(f"realtime must be on or off, not {word!r}")
    b.values["realtime"] = _BOOLEAN_WORDS[word]


def _rtprio(b: _Builder, args: list[str], line: int) -> None:
    # SCHED_RR's range on Linux; Heartbeat checks it against sched_get_priority_min/max
    b.values["rtprio"] = ascii_int(_one(args, "rtprio"), 1, 99, "a SCHED_RR priority")


_BOOLEAN_WORDS = {"on": True, "yes": True, "true": True, "y": True, "1": True,
                  "off": False, "no": False, "false": False, "n": False, "0": False}
_CRM_WORDS = {"off": "off", "no": "off", "false": "off", "on": "on", "yes": "on",
              "true": "on", "respawn": "respawn"}


def _respawn(b: _Builder, args: list[str], line: int) -> None:
    if len(args) < 2:
        raise ValueError("respawn takes: <user> <program> [args...]")
    if not all(word.isprintable() for word in args):
        raise ValueError("respawn arguments must be printable")
    b.respawn.append(Respawn(args[0], tuple(args[1:])))


def _path(name: str) -> Callable[[_Builder, list[str], int], None]:
    def apply(b: _Builder, args: list[str], line: int) -> None:
        value = _one(args, name)
        if not value.isprintable() or len(value) > 4096:
            raise ValueError(f"{name} must be printable and at most 4096 characters")
        if name != "logfacility" and not value.startswith("/"):
            raise ValueError(f"{name} must be an absolute path")
        b.values[name] = value
    return apply


def _cluster_name(b: _Builder, args: list[str], line: int) -> None:
    name = _one(args, "cluster_name")
    if len(name) > 64 or not name.isprintable():
        raise ValueError("cluster_name must be printable and at most 64 characters")
    b.values["cluster_name"] = name


def _state_dir(b: _Builder, args: list[str], line: int) -> None:
    path = _one(args, "state_dir")
    if not path.startswith("/") or not path.isprintable() or len(path) > 4096:
        raise ValueError("state_dir must be a printable absolute path")
    b.values["state_dir"] = path


def _max_message(b: _Builder, args: list[str], line: int) -> None:
    # the retransmission history must hold a whole message, hence the upper bound
    b.values["max_message"] = ascii_int(_one(args, "max_message"), 1024, 2 << 20,
                                        "a message size in bytes")


_DIRECTIVES: dict[str, Callable[[_Builder, list[str], int], None]] = {
    "keepalive": _set_time("keepalive"),
    "deadtime": _set_time("deadtime"),
    "warntime": _set_time("warntime"),
    "initdead": _set_time("initdead"),
    "udpport": _udpport,
    "bcast": _bcast,
    "mcast": _mcast,
    "ucast": _ucast,
    "node": _node,
    "autojoin": _choice("autojoin", {"none": "none", "other": "other", "any": "any"}),
    "crm": _choice("crm", _CRM_WORDS),
    "pacemaker": _choice("pacemaker", _CRM_WORDS),
    "respawn": _respawn,
    "logfile": _path("logfile"),
    "debugfile": _path("debugfile"),
    "logfacility": _path("logfacility"),
    "cluster_name": _cluster_name,
    "state_dir": _state_dir,
    "max_message": _max_message,
    "realtime": _realtime,
    "rtprio": _rtprio,
}


def _timers(b: _Builder) -> dict[str, float]:
    """Heartbeat's defaults and derived values for the four timers."""
    keepalive = float(b.values.get("keepalive", 1.0))  # type: ignore[arg-type]
    deadtime = float(b.values.get("deadtime", 30.0))  # type: ignore[arg-type]
    warntime = float(b.values.get("warntime", deadtime / 2))  # type: ignore[arg-type]
    if "initdead" in b.values:
        initdead = float(b.values["initdead"])  # type: ignore[arg-type]
    elif deadtime > 10:
        initdead = deadtime
    elif deadtime < 6:
        initdead = 12.0
    else:
        initdead = 2 * deadtime
    return {"keepalive": keepalive, "deadtime": deadtime, "warntime": warntime,
            "initdead": initdead}


def _at(b: _Builder, *names: str) -> Location:
    """The line of the last of `names` given in the file (the file when none was)."""
    lines = [b.lines[name] for name in names if name in b.lines]
    return Location(b.source, max(lines) if lines else None)


def _check(b: _Builder, t: dict[str, float]) -> None:
    where = Location(b.source)
    if t["deadtime"] <= 2 * t["keepalive"]:
        raise ConfigError(f"deadtime ({t['deadtime']:g}s) must be more than twice keepalive "
                          f"({t['keepalive']:g}s)", location=_at(b, "keepalive", "deadtime"))
    if not t["keepalive"] <= t["warntime"] < t["deadtime"]:
        raise ConfigError(f"warntime ({t['warntime']:g}s) must lie between keepalive and "
                          f"deadtime ({t['deadtime']:g}s)",
                          location=_at(b, "keepalive", "warntime", "deadtime"))
    if t["initdead"] < t["deadtime"]:
        raise ConfigError(f"initdead ({t['initdead']:g}s) must be at least deadtime "
                          f"({t['deadtime']:g}s)", location=_at(b, "initdead", "deadtime"))
    if not b.media:
        raise ConfigError("no communication medium: add a bcast, mcast or ucast line",
                          location=where)
    if not b.nodes and b.values.get("autojoin", "none") != "any":
        raise ConfigError("no node lines (list every node, or use 'autojoin any')",
                          location=where)


def _split(raw: str) -> list[str]:
    return raw.split("#", 1)[0].split()


def parse_ha_cf(text: str, source: str = "ha.cf") -> HaConfig:
    """Parse ha.cf text; `source` names the file in error messages.

    Raises:
        ConfigError: unknown directive, bad value or inconsistent timers (with file:line).
    """
    b = _Builder(source)
    for number, raw in enumerate(text.splitlines(), start=1):
        words = _split(raw)
        if not words:
            continue
        name, args = words[0].lower(), words[1:]
        if name in FOREIGN_DIRECTIVES:
            b.foreign.append((name, number, tuple(args)))
            continue
        handler = _DIRECTIVES.get(name)
        if handler is None and name not in LEGACY_DIRECTIVES:
            raise ConfigError(f"unknown directive {words[0]!r}", location=Location(source, number))
        try:
            if handler is None:
                b.legacy.append((name, number))
            else:
                handler(b, args, number)
        except ValueError as error:
            raise ConfigError(f"{name}: {error}", location=Location(source, number)) from None
    timers = _timers(b)
    _check(b, timers)
    config = HaConfig(source=source, media=tuple(b.media), nodes=tuple(b.nodes),
                      respawn=tuple(b.respawn), legacy=tuple(b.legacy),
                      foreign=tuple(b.foreign),
                      keepalive=timers["keepalive"], deadtime=timers["deadtime"],
                      warntime=timers["warntime"], initdead=timers["initdead"])
    extra = {k: v for k, v in b.values.items() if k not in timers}
    return replace(config, **extra)  # type: ignore[arg-type]


def load_ha_cf(path: str | Path) -> HaConfig:
    """Read and parse an ha.cf file.

    Raises:
        ConfigError: the file cannot be read or is invalid (naming the file and line).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", location=Location(str(path))) from None
    return parse_ha_cf(text, str(path))
