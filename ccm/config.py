"""ccm's settings from ha.cf: the heartbeat settings plus votequorum directives.

The quorum directives live in the same ha.cf (our extension, votequorum names):

    expected_votes 5
    quorum_votes n1 2            # votes of one node (default 1)
    two_node on|off
    wait_for_all on|off
    last_man_standing on|off
    last_man_standing_window 10s # ha.cf time syntax (plain seconds or `ms` suffix)
    auto_tie_breaker on|off
    auto_tie_breaker_node lowest|highest|n3 n1 ...

Their lines are parsed here and blanked before the rest of the file goes to
`messaging.config.parse_ha_cf`, so line numbers in its errors stay right. A bad value is
a `ConfigError` naming file and line; nothing is half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from messaging.config import HaConfig, ascii_int, check_node_name, parse_ha_cf, parse_time
from messaging.errors import ConfigError, Location

from .quorum import QuorumSettings

QUORUM_DIRECTIVES = frozenset({
    "expected_votes", "quorum_votes", "two_node", "wait_for_all", "last_man_standing",
    "last_man_standing_window", "auto_tie_breaker", "auto_tie_breaker_node",
})
MAX_VOTES = 65535  # votequorum's own limit on expected and per-node votes
_BOOLEANS = {"on": True, "yes": True, "true": True, "1": True,
             "off": False, "no": False, "false": False, "0": False}


@dataclass(frozen=True, slots=True)
class CcmConfig:
    """Everything ccm needs from ha.cf."""

    ha: HaConfig
    quorum: QuorumSettings


def parse(text: str, source: str = "ha.cf") -> CcmConfig:
    """Parse ha.cf text into heartbeat settings plus quorum settings."""
    kept: list[str] = []
    options: dict[str, Any] = {}
    votes: list[tuple[str, int]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split()
        if not words or words[0].lower() not in QUORUM_DIRECTIVES:
            kept.append(raw)
            continue
        kept.append("")
        try:
            _directive(words[0].lower(), words[1:], options, votes)
        except ValueError as error:
            raise ConfigError(f"{words[0]}: {error}", location=Location(source, number)) from None
    ha = parse_ha_cf("\n".join(kept), source)
    unknown = [node for node, _ in votes if ha.nodes and node not in ha.nodes]
    if unknown:
        raise ConfigError(f"quorum_votes names unknown node {unknown[0]!r}",
                          location=Location(source))
    try:
        quorum = QuorumSettings(nodes=ha.nodes, votes=tuple(votes), **options)
    except ConfigError as error:
        raise ConfigError(error.message, location=Location(source)) from None
    return CcmConfig(ha, quorum)


def load(path: str | Path) -> CcmConfig:
    """Read and parse ha.cf; unreadable files are a ConfigError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", location=Location(str(path))) from None
    return parse(text, str(path))


def _directive(name: str, args: list[str], options: dict[str, Any],
               votes: list[tuple[str, int]]) -> None:
    if name == "quorum_votes":
        if len(args) != 2:
            raise ValueError("expects a node name and a vote count, e.g. 'quorum_votes n1 2'")
        votes.append((check_node_name(args[0]),
                      ascii_int(args[1], 0, MAX_VOTES, "a vote count")))
        return
    if not args:
        raise ValueError("needs a value")
    if name == "auto_tie_breaker_node":
        options[name] = args[0] if args[0] in ("lowest", "highest") and len(args) == 1 \
            else tuple(check_node_name(node) for node in args)
        return
    if len(args) != 1:
        raise ValueError(f"takes one value, got {len(args)}")
    value = args[0]
    if name == "expected_votes":
        options[name] = ascii_int(value, 1, MAX_VOTES, "a positive vote count")
    elif name == "last_man_standing_window":
        options[name] = parse_time(value)
    else:
        if value.lower() not in _BOOLEANS:
            raise ValueError(f"{value!r} is not on/off")
        options[name] = _BOOLEANS[value.lower()]
