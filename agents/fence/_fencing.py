"""The fence-agents calling convention shared by hacluster's own fence agents.

A fence agent is started with either command-line options (`-o reboot -n node1`) or,
with no arguments, `name=value` lines on stdin (the way a fencer calls it). Both end in
one `Options` mapping. `run_agent` then dispatches the action and returns the exit code:

* on/off/reboot: 0 success, 1 failure (reboot: the off half decides, as in fence-agents);
* status: 0 on, 1 could not tell, 2 off;  monitor: 0 device usable, 1 not;
* list: 0 and one `plug,alias` line per plug;  metadata: XML on stdout, rc 0;
* validate-all: 0 when the options can be used, 1 otherwise.

Human output follows fence-agents ("Success: Powered OFF", "Status: ON"); errors go to
stderr as one "Failed: ..." line. Nothing here knows a concrete device: an agent supplies a
`Device` with power_on/power_off/status/plugs, and its extra `Param`s.

Start-up cost is part of every fencing operation (the fencer starts the agent afresh for
each action), so this module imports only `sys` and `time` at load: argparse (getopt style,
used from a shell, never by the fencer), typing and everything else come lazily or only for
type checking. tests/unit/agents/fence/test_fence_lab_agent.py pins that.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (and re)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Protocol, TextIO

ACTIONS = ("on", "off", "reboot", "status", "list", "list-status", "monitor",
           "metadata", "validate-all")
_ALIASES = {"meta-data": "metadata", "option": "action", "port": "plug"}
_TRUE = {"1", "yes", "on", "true", "y"}
_FALSE = {"0", "no", "off", "false", "n", ""}

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_OFF = 2


class AgentFailure(Exception):
    """The action cannot be carried out; the message becomes the 'Failed:' line."""


class Param:
    """One agent parameter as the metadata and the option parsers know it.

    A plain class, not a dataclass: importing dataclasses costs the agent milliseconds.
    """

    __slots__ = ("default", "kind", "name", "required", "short", "shortdesc")

    def __init__(self, name: str, shortdesc: str, kind: str = "string",
                 default: str | None = None, short: str | None = None,
                 required: bool = False) -> None:
        self.name = name
        self.shortdesc = shortdesc
        self.kind = kind  # string | boolean | integer | second
        self.default = default
        self.short = short
        self.required = required


STANDARD_PARAMS = (
    Param("action", "Fencing action", default="reboot", short="o", required=True),
    Param("plug", "Physical plug number on device, UUID or identification of machine",
          short="n"),
    Param("delay", "Wait X seconds before fencing is started", "second", "0"),
    Param("power_timeout", "Test X seconds for status change after ON/OFF", "second", "20"),
    Param("power_wait", "Wait X seconds after issuing ON/OFF", "second", "0"),
    Param("verbose", "Verbose mode", "boolean", short="v"),
    Param("quiet", "Disable logging to stderr", "boolean", short="q"),
)


class Options:
    """Parsed agent options: plain strings by canonical name (`port` is stored as `plug`)."""

    __slots__ = ("values",)

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values: dict[str, str] = {} if values is None else values

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def flag(self, name: str) -> bool:
        value = self.values.get(name, "0").strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise AgentFailure(f"parameter {name}={value!r} is not a boolean")

    def seconds(self, name: str, default: float) -> float:
        raw = self.values.get(name, "").strip().rstrip("s")
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise AgentFailure(f"parameter {name}={raw!r} is not a number of seconds") from None
        if value < 0:
            raise AgentFailure(f"parameter {name} must not be negative")
        return value

    @property
    def action(self) -> str:
        action = self.values.get("action", "reboot").strip().lower()
        return _ALIASES.get(action, action)

    @property
    def plug(self) -> str:
        return self.values.get("plug", "").strip()


if TYPE_CHECKING:
    class Device(Protocol):
        """What a concrete agent implements; every method may raise AgentFailure."""

        def power_on(self, plug: str) -> None: ...

        def power_off(self, plug: str) -> None: ...

        def status(self, plug: str) -> bool:
            """True when the plug is powered on."""
            ...

        def plugs(self) -> list[tuple[str, str]]:
            """Every plug as (plug, alias); alias may be empty."""
            ...

        def monitor(self) -> None:
            """Raise AgentFailure when the device cannot be used."""
            ...


class AgentSpec:
    """Name, descriptions and extra parameters of a concrete agent."""

    __slots__ = ("longdesc", "make_device", "multi_port", "name", "params", "shortdesc")

    def __init__(self, name: str, shortdesc: str, longdesc: str, params: tuple[Param, ...],
                 make_device: Callable[[Options], Device], multi_port: bool = True) -> None:
        self.name = name
        self.shortdesc = shortdesc
        self.longdesc = longdesc
        self.params = params
        self.make_device = make_device
        self.multi_port = multi_port

    @property
    def all_params(self) -> tuple[Param, ...]:
        return STANDARD_PARAMS + self.params


def parse_stdin(text: str, spec: AgentSpec, err: TextIO) -> Options:
    """Parse `name=value` lines (fence-agents stdin convention; unknown names warned)."""
    known = {p.name for p in spec.all_params} | {"nodename"}
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            err.write(f"WARNING: stdin line {number} has no '=': {line!r}, ignored\n")
            continue
        name = name.strip().replace("-", "_")
        name = _ALIASES.get(name, name)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name not in known:
            err.write(f"WARNING: parameter {name!r} is not supported by {spec.name}, ignored\n")
            continue
        values[name] = value
    if "nodename" in values and "plug" not in values:
        values["plug"] = values["nodename"]  # a fencer may send only nodename
    return Options(values)


def parse_argv(argv: Sequence[str], spec: AgentSpec) -> Options:
    """Parse getopt-style options (`-o off -n node1 --state-file=...`)."""
    import argparse  # lazily: the fencer passes stdin, only a shell user pays for argparse

    parser = argparse.ArgumentParser(prog=spec.name, add_help=True)
    for param in spec.all_params:
        flags = [f"--{param.name.replace('_', '-')}"]
        if param.name == "plug":
            flags.append("--port")
        if param.short:
            flags.insert(0, f"-{param.short}")
        if param.kind == "boolean":
            parser.add_argument(*flags, dest=param.name, action="store_const", const="1")
        else:
            parser.add_argument(*flags, dest=param.name)
    parsed = parser.parse_args(list(argv))
    values = {k: v for k, v in vars(parsed).items() if v is not None}
    if "action" in values:
        values["action"] = _ALIASES.get(values["action"], values["action"])
    return Options(values)


def metadata(spec: AgentSpec) -> str:
    """The agent's metadata XML (fence-agents `metadata.rng` shape)."""
    lines = ['<?xml version="1.0" ?>',
             f"<resource-agent name={quoteattr(spec.name)} shortdesc={quoteattr(spec.shortdesc)}>",
             f"<longdesc>{_text(spec.longdesc)}</longdesc>",
             "<vendor-url>https://github.com/hacluster</vendor-url>",
             "<parameters>"]
    for param in spec.all_params:
        lines.append(f"\t<parameter name={quoteattr(param.name)} unique=\"0\" "
                     f"required=\"{int(param.required)}\">")
        lines.append(f"\t\t<getopt mixed={quoteattr(_getopt(param))} />")
        default = "" if param.default is None else f" default={quoteattr(param.default)}"
        lines.append(f"\t\t<content type={quoteattr(param.kind)}{default} />")
        lines.append(f"\t\t<shortdesc lang=\"en\">{_text(param.shortdesc)}</shortdesc>")
        lines.append("\t</parameter>")
    lines += ["</parameters>", "<actions>"]
    actions = ["on", "off", "reboot", "status", "monitor", "metadata", "validate-all"]
    if spec.multi_port:
        actions += ["list", "list-status"]
    for action in actions:
        extra = ' automatic="0"' if action == "on" else ""
        lines.append(f"\t<action name=\"{action}\"{extra} />")
    lines += ["</actions>", "</resource-agent>"]
    return "\n".join(lines) + "\n"


def _getopt(param: Param) -> str:
    long = f"--{param.name.replace('_', '-')}"
    value = "" if param.kind == "boolean" else f"=[{param.name}]"
    return f"-{param.short}, {long}{value}" if param.short else f"{long}{value}"


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(value: str) -> str:
    """`value` as a double-quoted XML attribute (xml.sax.saxutils would pull in urllib)."""
    escaped = _text(value).replace('"', "&quot;")
    return '"' + escaped.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + '"'


def _wait_for(device: Device, plug: str, want_on: bool, options: Options) -> None:
    """Poll the plug until it reaches the wanted state or power_timeout passes."""
    deadline = time.monotonic() + options.seconds("power_timeout", 20.0)
    while device.status(plug) != want_on:
        if time.monotonic() >= deadline:
            word = "ON" if want_on else "OFF"
            raise AgentFailure(f"Timed out waiting to power {word}")
        time.sleep(0.05)


def _switch(device: Device, plug: str, want_on: bool, options: Options, out: TextIO,
            known_on: bool | None = None) -> None:
    """Switch the plug unless it is in that state already (`known_on`: the state just seen,
    so a reboot's "on" half does not ask again what its "off" half confirmed)."""
    if (device.status(plug) if known_on is None else known_on) == want_on:
        out.write(f"Success: Already {'ON' if want_on else 'OFF'}\n")
        return
    (device.power_on if want_on else device.power_off)(plug)
    time.sleep(options.seconds("power_wait", 0.0))
    _wait_for(device, plug, want_on, options)
    out.write(f"Success: Powered {'ON' if want_on else 'OFF'}\n")


def _need_plug(options: Options, spec: AgentSpec) -> str:
    if spec.multi_port and not options.plug:
        raise AgentFailure("You have to enter plug number or machine identification")
    return options.plug


def _dispatch(spec: AgentSpec, options: Options, out: TextIO) -> int:
    action = options.action
    if action == "metadata":
        out.write(metadata(spec))
        return EXIT_OK
    if action not in ACTIONS:
        raise AgentFailure(f"Unrecognised action '{action}'")
    device = spec.make_device(options)
    if action == "validate-all":
        return EXIT_OK
    if action == "monitor":
        device.monitor()
        return EXIT_OK
    if action in ("list", "list-status"):
        for plug, alias in device.plugs():
            state = (",ON" if device.status(plug) else ",OFF") if action == "list-status" else ""
            out.write(f"{plug},{alias}{state}\n")
        return EXIT_OK
    plug = _need_plug(options, spec)
    if action == "status":
        on = device.status(plug)
        out.write(f"Status: {'ON' if on else 'OFF'}\n")
        return EXIT_OK if on else EXIT_OFF
    time.sleep(options.seconds("delay", 0.0))
    if action == "reboot":
        _switch(device, plug, False, options, out)
        try:
            _switch(device, plug, True, options, out, known_on=False)
        except AgentFailure as error:  # fence-agents: the off half decides a reboot
            sys.stderr.write(f"WARNING: power on after reboot failed: {error}\n")
        return EXIT_OK
    _switch(device, plug, action == "on", options, out)
    return EXIT_OK


def run_agent(spec: AgentSpec, argv: Sequence[str], stdin: TextIO, out: TextIO,
              err: TextIO) -> int:
    """Parse options from argv or stdin, run the action, return the exit code."""
    try:
        options = parse_argv(argv, spec) if argv else parse_stdin(stdin.read(), spec, err)
        return _dispatch(spec, options, out)
    except AgentFailure as error:
        err.write(f"Failed: {error}\n")
        return EXIT_FAIL


def main(spec: AgentSpec) -> None:
    """Console-script body of an agent."""
    sys.exit(run_agent(spec, sys.argv[1:], sys.stdin, sys.stdout, sys.stderr))
