"""`configure import haresources FILE`: Heartbeat v1 resources as CIB objects (pure).

Each haresources line `<node> <res> <res> ...` (backslash continues a line, # comments)
becomes one group started left to right (a single resource stays a primitive), with a
location constraint of score 100 for the preferred node. Resources: a bare IPv4 address
`a.b.c.d[/bits[/iface[/broadcast]]]` is IPaddr; `name::arg1::arg2` passes arguments;
IPaddr, IPaddr2 and Filesystem become their OCF agents, anything else an LSB script.
ha.cf's auto_failback decides stickiness: `on` lets groups go home (0), `off`/`legacy`
keeps them where they run (INFINITY), as haresources2cib did.
"""

from __future__ import annotations

import re

from lxml import etree

from crmd import cibedit
from crmd.shell.configure import apply
from messaging.errors import ValidationError

_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(/.*)?$")
_OCF_ARGUMENTS = {"IPaddr": ("ip", "cidr_netmask", "nic", "broadcast"),
                  "IPaddr2": ("ip", "cidr_netmask", "nic", "broadcast"),
                  "Filesystem": ("device", "directory", "fstype", "options")}


def logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            lines.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def _resource_words(spec: str, taken: set[str]) -> tuple[str, list[str]]:
    """(id, crmsh primitive words) for one haresources resource."""
    if _IPV4.match(spec):
        name, args = "IPaddr", spec.split("/")
    else:
        name, *args = spec.split("::")
    if not name or not re.match(r"^[\w.+-]+$", name):
        raise ValidationError(f"not a resource: {spec!r}")
    base = f"{name}_{args[0].replace('.', '_').replace('/', '_')}" if name in _OCF_ARGUMENTS \
        and args else name
    ident = base
    number = 1
    while ident in taken:
        ident, number = f"{base}_{number}", number + 1
    taken.add(ident)
    if name in _OCF_ARGUMENTS:
        if len(args) > len(_OCF_ARGUMENTS[name]):
            raise ValidationError(f"too many arguments for {name}: {spec!r}")
        params = [f"{key}={value}" for key, value in zip(_OCF_ARGUMENTS[name], args,
                                                          strict=False) if value]
        words = [ident, f"ocf:heartbeat:{name}"] + (["params", *params] if params else [])
    else:
        words = [ident, f"lsb:{name}"]
        if args:
            raise ValidationError(f"LSB script {name} cannot take arguments ({spec!r})")
    return ident, [*words, "op", "monitor", "interval=30s", "timeout=60s"]


def _auto_failback(ha_cf: str | None) -> str:
    if ha_cf is None:
        return "on"
    for line in ha_cf.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "auto_failback":
            return words[1].lower()
    return "legacy"


def import_haresources(root: etree._Element, text: str, ha_cf: str | None) -> list[str]:
    """Add the haresources objects to the tree; the notes to show."""
    taken = cibedit.ids_in_use(root)
    notes = []
    for group_number, (line_number, line) in enumerate(logical_lines(text), start=1):
        node, *specs = line.split()
        if not specs:
            raise ValidationError(f"haresources line {line_number}: {node} has no resources")
        ids = []
        for spec in specs:
            ident, words = _resource_words(spec, taken)
            apply(root, "primitive", words)
            ids.append(ident)
        target = ids[0]
        if len(ids) > 1:
            target = cibedit.unique_id(root, f"group_{group_number}")
            apply(root, "group", [target, *ids])
        node_name = node.lower()  # ResourceManager lowercases the node name
        apply(root, "location", [f"{target}-prefers-{node_name}", target, "100:", node_name])
        notes.append(f"INFO: haresources line {line_number}: {target} prefers {node_name}")
    failback = _auto_failback(ha_cf)
    stickiness = "0" if failback == "on" else "INFINITY"
    apply(root, "rsc_defaults", [f"resource-stickiness={stickiness}"])
    return notes
