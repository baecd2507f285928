"""Where resource agents live and what environment they get.

OCF agents are searched in several roots, first match wins: the roots listed in
``$HACLUSTER_OCF_ROOTS`` (colon separated), then ``/usr/lib/ocf``, then hacluster's own
agents shipped inside the package (``agents/ocf``, provider ``hacluster``). An agent is
``<root>/resource.d/<provider>/<type>`` and must be an executable file; the root it was
found in becomes its ``OCF_ROOT`` (Debian's agents source their shell library from there).
LSB init scripts live in ``$HACLUSTER_LSB_DIR`` or ``/etc/init.d``.

The environment is built from scratch (no daemon variables leak into agents): ``PATH``,
``LC_ALL=C``, the OCF variables, the daemon's ``HA_RSCTMP``/``HA_LOG*``/``HA_debug``,
``HACLUSTER_PYTHON`` (this interpreter) and ``PYTHONPATH`` so hacluster's Python agents
import the installed package.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from lrmd.messages import AgentSpec

SYSTEM_OCF_ROOT = Path("/usr/lib/ocf")
SYSTEM_LSB_DIR = Path("/etc/init.d")
EXIT_REASON_PREFIX = "ocf-exit-reason:"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# the daemon's settings agents' shell library reads (log target, resource temp dir)
_PASSED_THROUGH = ("HA_RSCTMP", "HA_LOGFACILITY", "HA_LOGFILE", "HA_DEBUGLOG", "HA_debug")
_CODE_ROOT = Path(__file__).resolve().parent.parent  # the directory holding our packages


@functools.cache
def own_ocf_root() -> Path:
    """The OCF root inside the installed `agents` package (found without importing it)."""
    spec = importlib.util.find_spec("agents")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "ocf"
    return _CODE_ROOT / "agents" / "ocf"


def ocf_roots(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The OCF roots in search order (override first, system, then our own)."""
    env = os.environ if environ is None else environ
    extra = [Path(p) for p in env.get("HACLUSTER_OCF_ROOTS", "").split(":") if p]
    roots: list[Path] = []
    for root in [*extra, SYSTEM_OCF_ROOT, own_ocf_root()]:
        if root not in roots:
            roots.append(root)
    return roots


def lsb_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("HACLUSTER_LSB_DIR", str(SYSTEM_LSB_DIR)))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def safe_component(name: str) -> bool:
    """True for a name that is one path component and cannot leave its directory.

    Pacemaker's executor only looks up agents as <dir>/<provider>/<type>; a provider of
    ``..`` or a type with a separator would reach files that are not agents (and hidden
    files are never listed as agents, so they are not runnable either).
    """
    return (bool(name) and len(name) <= 255 and "/" not in name and "\0" not in name
            and not name.startswith(".") and name.isprintable())


def _inside(directory: Path, candidate: Path) -> bool:
    return Path(os.path.normpath(candidate)).parent == Path(os.path.normpath(directory))


def locate(agent: AgentSpec, roots: Iterable[Path], lsb: Path) -> tuple[Path, Path] | None:
    """(executable, OCF root) of `agent`, or None when it is not installed here.

    Provider, type and LSB names must each be one safe path component (`safe_component`)
    that stays inside its directory; anything else is simply not installed (OCF rc 5).
    """
    if agent.standard == "ocf":
        if not (safe_component(agent.provider) and safe_component(agent.type)):
            return None
        own = own_ocf_root()
        for root in roots:
            candidate = root / "resource.d" / agent.provider / agent.type
            if not _inside(root / "resource.d" / agent.provider, candidate):
                continue
            # our own wrappers are run with sh even if an installer dropped the x bit
            if _executable(candidate) or (root == own and candidate.is_file()):
                return candidate, root
        return None
    if is_lsb(agent) and safe_component(agent.type):
        candidate = lsb / agent.type
        if _inside(lsb, candidate) and _executable(candidate):
            return candidate, SYSTEM_OCF_ROOT
    return None
    return None


def list_agents(roots: Iterable[Path], lsb: Path) -> list[AgentSpec]:
    """Every OCF agent in every root (first root wins for duplicates) and every LSB script."""
    found: dict[str, AgentSpec] = {}
    for root in roots:
        base = root / "resource.d"
        if not base.is_dir():
            continue
        for provider in sorted(p for p in base.iterdir() if p.is_dir()):
            for agent in sorted(provider.iterdir()):
                if _executable(agent) and not agent.name.startswith("."):
                    spec = AgentSpec("ocf", agent.name, provider.name)
                    found.setdefault(str(spec), spec)
    if lsb.is_dir():
        for script in sorted(lsb.iterdir()):
            if _executable(script) and not script.name.startswith((".", "README")):
                found.setdefault(f"lsb:{script.name}", AgentSpec("lsb", script.name))
    return list(found.values())


def agent_environment(
    agent: AgentSpec, resource: str, params: Mapping[str, str], ocf_root: Path
) -> dict[str, str]:
    """The environment of one agent call from its full parameter table.

    Every key gets the ``OCF_RESKEY_`` prefix except ``OCF_CHECK_LEVEL``; keys that are not
    valid variable names are skipped rather than passed mangled.
    """
    pythonpath = [str(_CODE_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
    env = {
        "PATH": os.environ.get("PATH", _PATH) or _PATH,
        "LC_ALL": "C",
        "OCF_ROOT": str(ocf_root),
        "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "1",
        "OCF_RESOURCE_INSTANCE": resource,
        "OCF_RESOURCE_TYPE": agent.type,
        "OCF_RESOURCE_PROVIDER": agent.provider,
        "OCF_EXIT_REASON_PREFIX": EXIT_REASON_PREFIX,
        "HACLUSTER_PYTHON": sys.executable,
        "PYTHONPATH": ":".join(pythonpath),
    }
    env.update({k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ})
    for name, value in params.items():
        if not name.replace("_", "a").replace("-", "a").isalnum() or "\0" in str(value):
            continue
        key = name if name == "OCF_CHECK_LEVEL" else f"OCF_RESKEY_{name}"
        env[key.replace("-", "_")] = str(value)
    return env


def exit_reason(stderr: str) -> str:
    """The last ``ocf-exit-reason:`` line of an agent's stderr, without the prefix."""
    reason = ""
    for line in stderr.splitlines():
        if line.startswith(EXIT_REASON_PREFIX):
            reason = line[len(EXIT_REASON_PREFIX) :].strip()
    return reason[:512]


def lsb_action(action: str) -> str:
    """LSB scripts answer `status`; OCF's monitor maps to it."""
    return "status" if action == "monitor" else action


def lsb_status_to_ocf(rc: int) -> int:
    """LSB status codes as OCF codes: 0 running; 1, 2, 3 stopped; 150 not installed;
    151 no privilege; anything else a generic error."""
    return {0: 0, 1: 7, 2: 7, 3: 7, 150: 5, 151: 4}.get(rc, 1)


def is_lsb(agent: AgentSpec) -> bool:
    """An init script: lsb:NAME, or service:NAME, which Pacemaker resolves to the init
    script when no systemd unit answers (our executor runs init scripts only)."""
    return agent.standard in ("lsb", "service")


# The header fields Pacemaker copies into the meta-data's <special tag='LSB'>, in order.
_LSB_FIELDS = ("Provides", "Required-Start", "Required-Stop", "Should-Start", "Should-Stop",
               "Default-Start", "Default-Stop")
_LSB_ACTIONS = ("    <action name='meta-data'    timeout='5' />\n"
                "    <action name='start'        timeout='15' />\n"
                "    <action name='stop'         timeout='15' />\n"
                "    <action name='status'       timeout='15' />\n"
                "    <action name='restart'      timeout='15' />\n"
                "    <action name='force-reload' timeout='15' />\n"
                "    <action name='monitor'      timeout='15' interval='15' />\n")


def _lsb_header(script: Path) -> dict[str, str]:
    """The ``### BEGIN INIT INFO`` fields, each value as written after its colon with its
    line end (Pacemaker keeps both). Description continues on "#<tab>" / "#  " lines; as
    in Pacemaker, the line that ends it is not read as a field of its own."""
    fields: dict[str, str] = {}
    try:
        lines = script.read_text(errors="replace").splitlines()
    except OSError:
        return fields
    inside, last = False, ""
    for line in lines:
        if line.startswith("### BEGIN INIT INFO"):
            inside = True
        elif line.startswith("### END INIT INFO"):
            break
        elif inside and last == "Description":
            if line.startswith(("#\t", "#  ")):
                fields[last] += line[1:] + "\n"
            else:
                last = ""
        elif inside and line.startswith("# ") and ":" in line:
            last, _, value = line[2:].partition(":")
            fields.setdefault(last, value + "\n")
        else:
            last = ""
    return fields


def lsb_metadata(agent: AgentSpec, script: Path) -> str:
    """Meta-data for an init script in Pacemaker's layout, from its LSB header."""
    from xml.sax.saxutils import escape

    fields = {k: escape(v) for k, v in _lsb_header(script).items()}
    name = escape(agent.type)  # what Pacemaker says when a description is missing
    special = "".join(f"    <{name}>{fields.get(name, '')}</{name}>\n" for name in _LSB_FIELDS)
    return ("<?xml version='1.0'?>\n<!DOCTYPE resource-agent SYSTEM 'ra-api-1.dtd'>\n"
            f"<resource-agent name='{name}' version='0.1'>\n"
            "  <version>1.0</version>\n"
            f"  <longdesc lang='en'>\n{fields.get('Description', name)}  </longdesc>\n"
            f"  <shortdesc lang='en'>{fields.get('Short-Description', name)}</shortdesc>\n"
            "  <parameters>\n  </parameters>\n"
            f"  <actions>\n{_LSB_ACTIONS}  </actions>\n"
            f"  <special tag='LSB'>\n{special}  </special>\n</resource-agent>\n")
