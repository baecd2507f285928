"""crm_mon's --include/--exclude: which output sections are shown (pure, no I/O).

Pacemaker's crm_mon starts from a default set (every section for XML; the summary, nodes,
resources, failures and fencing problems for text), then applies each --include/--exclude
in command-line order; each takes a comma-separated list of section names. Group names
expand: "summary" to its lines (stack, dc, times, counts, maint-mode; not "options"), "fencing"
to its three histories, "all"/"none"/"default" to the whole/empty/default set. An unknown
name is a usage error (CRM_EX_USAGE) naming the offending word.
"""

from __future__ import annotations

from messaging.errors import UsageError

SUMMARY = frozenset({"stack", "dc", "times", "counts", "maint-mode"})
FENCING = frozenset({"fencing-failed", "fencing-pending", "fencing-succeeded"})
ALL = SUMMARY | FENCING | frozenset({"options", "nodes", "resources", "attributes", "failcounts",
                                     "operations", "failures", "tickets", "bans"})
TEXT_DEFAULT = SUMMARY | frozenset(
    {"nodes", "resources", "failures", "fencing-failed", "fencing-pending"})
_GROUPS = {"summary": SUMMARY, "fencing": FENCING, "all": ALL, "none": frozenset()}
VALID = sorted({*ALL, *_GROUPS, "default"})


def _expand(word: str, default: frozenset[str]) -> frozenset[str]:
    name = word.split(":", 1)[0] if word.startswith("bans:") else word
    if name == "default":
        return default
    if name in _GROUPS:
        return _GROUPS[name]
    if name in ALL:
        return frozenset({name})
    raise UsageError(f"--include/--exclude: unknown section {word!r} "
                     f"(valid: {', '.join(VALID)})")


def resolve(default: frozenset[str], steps: list[tuple[str, str]]) -> frozenset[str]:
    """The shown sections after applying ("include"|"exclude", "a,b,...") steps in order."""
    shown = set(default)
    for kind, words in steps:
        for word in filter(None, words.split(",")):
            chosen = _expand(word.strip(), default)
            if kind == "include":
                # "none" on --include means "start from nothing", as Pacemaker's does
                shown = set() if word.strip() == "none" else shown | chosen
            else:
                shown -= chosen
    return frozenset(shown)


def split_steps(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Take --include/--exclude (either "--opt=V" or "--opt V") out of argv, in order.

    Click cannot keep two different options' relative order, which matters here.
    """
    rest: list[str] = []
    steps: list[tuple[str, str]] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        kind = next((k for k in ("include", "exclude")
                     if arg == f"--{k}" or arg.startswith(f"--{k}=")), None)
        if kind is None:
            rest.append(arg)
        elif "=" in arg:
            steps.append((kind, arg.split("=", 1)[1]))
        elif index + 1 < len(argv):
            index += 1
            steps.append((kind, argv[index]))
        else:
            raise UsageError(f"--{kind} needs a list of sections")
        index += 1
    return rest, steps
