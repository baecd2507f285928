"""`stonith_admin`: Pacemaker's fencing command line, talking to the local stonithd.

Options follow Pacemaker 2.1.5's `stonith_admin` (letters included): -B/--reboot,
-F/--fence (off), -U/--unfence (on), -C/--confirm, -l/--list HOST, -L/--list-registered,
-I/--list-installed, -s/--list-targets DEVICE, -Q/--query DEVICE, -H/--history NODE|'*'
[-c/--cleanup, -b/--broadcast], -h/--last NODE, -M/--metadata -a AGENT,
-K/--validate -a AGENT -o NAME=VALUE, -t/--timeout, --tolerance, -y/--delay, -q, -V.
Help is -?/--help as in Pacemaker (-h means --last there).

hacluster extensions: --off/--on are spellings of --fence/--unfence; --endpoint picks the
fencer (default $HACLUSTER_STONITHD, else stonithd.sock in the node's state directory,
$HACLUSTER_STATE_DIR or /var/lib/hacluster); and
`--cib FILE [--node NAME]` runs the one request with a private fencer built from that CIB,
without any daemon (this node is then the only fencer; history starts empty).

Exit codes are Pacemaker's: 0 ok, 1 fencing failed, 64 usage, 102 no fencer running,
105 no such device or no device for the target, 124 timeout.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from messaging.command import run_tool
from messaging.errors import (
    ErrorReply,
    ExitCode,
    FencingError,
    HAError,
    TransportError,
    UsageError,
)
from messaging.logs import configure
from stonithd import api
from stonithd.runner import default_agent_dirs, find_agent, run_agent_sync

_CLIENT_MARGIN = 10.0
_ACTION_WORD = {"reboot": "reboot", "off": "turning off", "on": "unfencing"}


class _Failed(HAError):
    """A request the fencer carried out but that failed, with the fencer's exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = ExitCode(code)


def _call(opts: dict[str, Any], message: api.Message, timeout: float) -> api.Message:
    if opts["cib"] is not None:
        from stonithd.service import run_once  # only the daemon-less path needs the shell

        reply: Any = asyncio.run(run_once(Path(opts["cib"]), opts["node"], message,
                                          default_agent_dirs(), timeout))
        if isinstance(reply, ErrorReply):
            raise reply.to_exception()
        result: api.Message = reply
        return result
    with api.StonithClient(opts["endpoint"]) as client:
        return client.call(message, timeout)


def _fence(opts: dict[str, Any], target: str, action: str) -> int:
    request = api.FenceRequest(target, action, opts["timeout"], opts["tolerance"],
                               opts["delay"], f"stonith_admin.{os.getpid()}")
    word = "unfence" if action == "on" else "fence"
    try:
        result = _call(opts, request, opts["timeout"] + _CLIENT_MARGIN)
    except TransportError as error:
        error.message = f"Couldn't {word} {target}: {error.message}"
        raise
    assert isinstance(result, api.FenceResult)
    if not result.ok:
        raise _Failed(f"Couldn't {word} {target}: {result.reason}",
                      result.exit_code or ExitCode.ERROR)
    if opts["verbose"]:
        click.echo(f"{_ACTION_WORD[action]} of {target} by {result.executioner} successful")
    return 0


def _print_list(items: list[str] | tuple[str, ...], singular: str, plural: str,
                quiet: bool) -> None:
    for item in items:
        click.echo(item if quiet else f" {item}")
    if not quiet:
        click.echo(f"{len(items)} {singular if len(items) == 1 else plural} found")


def _history(opts: dict[str, Any], target: str) -> int:
    request = api.HistoryRequest(target, opts["cleanup"], opts["broadcast"])
    reply = _call(opts, request, opts["timeout"])
    assert isinstance(reply, api.HistoryReply)
    entries = everything = list(reply.entries)  # newest first
    if not opts["verbose"]:  # Pacemaker: only the last successful operation per node
        latest: dict[str, api.HistoryEntry] = {}
        for entry in entries:
            if entry.state == api.OpState.DONE:
                latest.setdefault(entry.target, entry)
        entries = list(latest.values())
    for entry in entries:
        later = api.later_success(everything.index(entry), everything)
        click.echo(f"{entry.completed:.0f}" if opts["quiet"]
                   else api.describe_event(entry, later_succeeded=later))
    return 0


def _last(opts: dict[str, Any], target: str) -> int:
    reply = _call(opts, api.HistoryRequest(target), opts["timeout"])
    assert isinstance(reply, api.HistoryReply)
    done = [e for e in reply.entries if e.state == api.OpState.DONE]
    if done:
        click.echo(f"Node {target} last fenced at: {time.ctime(done[0].completed)}")
    else:
        click.echo(f"Node {target} has never been fenced")
    return 0


def _device_action(opts: dict[str, Any], device: str, action: str) -> int:
    reply = _call(opts, api.DeviceActionRequest(device, action, opts["timeout"]),
                  opts["timeout"] + _CLIENT_MARGIN)
    assert isinstance(reply, api.DeviceActionResult)
    if not reply.ok:
        raise FencingError(f"{action} of device {device} failed: {reply.reason}")
    if action == "list":
        _print_list(reply.ports, "fence target", "fence targets", opts["quiet"])
    elif not opts["quiet"]:
        click.echo(f"{device} is active" + (f" (power {reply.output})" if reply.output else ""))
    return 0


def _metadata(agent: str | None, timeout: float) -> int:
    if not agent:
        raise UsageError("--metadata requires --agent")
    click.echo(api.fence_agent_metadata(agent, timeout), nl=False)
    return 0


def _validate(agent: str | None, options: tuple[str, ...], quiet: bool, timeout: float) -> int:
    if not agent:
        raise UsageError("--validate requires --agent")
    pairs = [("action", "validate-all")]
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name:
            raise UsageError(f"--option {option!r} is not NAME=VALUE")
        pairs.append((name, value))
    output = run_agent_sync(find_agent(agent, default_agent_dirs()), pairs, timeout)
    if output.rc != 0:
        detail = (output.error or output.stderr.strip() or output.stdout.strip()).splitlines()
        raise _Failed(f"Validation of {agent} failed: {detail[-1] if detail else 'no output'}",
                      ExitCode.ERROR)
    if not quiet:
        click.echo(f"Validation of {agent} succeeded")
    return 0


def _installed(quiet: bool) -> int:
    _print_list(api.installed_fence_agents(), "fence device", "fence devices", quiet)
    return 0


_COMMANDS = ("reboot", "fence", "unfence", "off", "on", "confirm", "list", "list_registered",
             "list_installed", "list_targets", "query", "history", "last", "metadata",
             "validate")


def _chosen_command(opts: dict[str, Any]) -> tuple[str, Any]:
    """The one command given and its value, once the options that go with it are checked
    (--node defaults to this host's name)."""
    chosen = [c for c in _COMMANDS if opts[c] not in (None, False)]
    if len(chosen) != 1:
        raise UsageError("give exactly one command (for example --reboot NODE); see --help")
    command, value = chosen[0], opts[chosen[0]]
    if opts["cleanup"] and command != "history":
        raise UsageError("--cleanup requires --history")
    if opts["node"] is not None and opts["cib"] is None:
        raise UsageError("--node only makes sense with --cib")
    opts["node"] = opts["node"] or os.uname().nodename
    return command, value


def _dispatch(opts: dict[str, Any]) -> int:
    command, value = _chosen_command(opts)
    if command in ("reboot", "fence", "off", "unfence", "on"):
        action = {"reboot": "reboot", "fence": "off", "off": "off"}.get(command, "on")
        return _fence(opts, value, action)
    if command == "confirm":
        result = _call(opts, api.ConfirmRequest(value, f"stonith_admin.{os.getpid()}"),
                       opts["timeout"])
        assert isinstance(result, api.FenceResult)
        return 0
    if command == "list":
        reply = _call(opts, api.ListDevicesRequest(value, opts["timeout"]),
                      opts["timeout"] + _CLIENT_MARGIN)
        assert isinstance(reply, api.DeviceList)
        _print_list(reply.devices, "fence device", "fence devices", opts["quiet"])
        return 0
    if command == "list_registered":
        reply = _call(opts, api.ListRegisteredRequest(), opts["timeout"])
        assert isinstance(reply, api.DeviceList)
        _print_list(reply.devices, "fence device", "fence devices", opts["quiet"])
        return 0
    if command == "list_installed":
        return _installed(opts["quiet"])
    if command in ("list_targets", "query"):
        return _device_action(opts, value, "list" if command == "list_targets" else "monitor")
    if command == "history":
        return _history(opts, value)
    if command == "last":
        return _last(opts, value)
    if command == "validate":
        return _validate(opts["agent"], opts["option"], opts["quiet"], opts["timeout"])
    return _metadata(opts["agent"], opts["timeout"])


def _run(opts: dict[str, Any]) -> int:
    configure("info" if opts["verbose"] else "warning")
    return _dispatch(opts)


@click.command(context_settings={"help_option_names": ["-?", "--help"]})
@click.option("-B", "--reboot", metavar="HOST", help="Reboot named host.")
@click.option("-F", "--fence", metavar="HOST", help="Fence (power off) named host.")
@click.option("-U", "--unfence", metavar="HOST", help="Unfence (power on) named host.")
@click.option("--off", metavar="HOST", help="hacluster: same as --fence.")
@click.option("--on", metavar="HOST", help="hacluster: same as --unfence.")
@click.option("-C", "--confirm", metavar="HOST", help="Tell the cluster HOST is safely down.")
@click.option("-l", "--list", "list", metavar="HOST", help="Devices that can terminate HOST.")
@click.option("-L", "--list-registered", is_flag=True, help="Devices this fencer can run.")
@click.option("-I", "--list-installed", is_flag=True, help="Installed fence agents.")
@click.option("-s", "--list-targets", metavar="DEVICE", help="Targets DEVICE can fence.")
@click.option("-Q", "--query", metavar="DEVICE", help="Check the named device's status.")
@click.option("-H", "--history", metavar="NODE", help="Fencing history of NODE or '*'.")
@click.option("-h", "--last", metavar="NODE", help="When NODE was last fenced.")
@click.option("-M", "--metadata", is_flag=True, help="Show agent metadata (needs --agent).")
@click.option("-K", "--validate", is_flag=True, help="Validate a device configuration "
              "(needs --agent, takes --option).")
@click.option("-a", "--agent", metavar="AGENT", help="Fence agent (with --metadata, --validate).")
@click.option("-o", "--option", multiple=True, metavar="NAME=VALUE",
              help="Device parameter (with --validate; repeatable).")
@click.option("-t", "--timeout", default=120.0, type=click.FloatRange(min=0.001),
              show_default=True, help="Operation timeout in seconds.")
@click.option("--tolerance", default=0.0, type=click.FloatRange(min=0.0),
              help="Do nothing if an equivalent fencing succeeded this many seconds ago.")
@click.option("-y", "--delay", default=0.0, type=click.FloatRange(min=-1.0),
              help="Extra fencing delay in seconds; -1 disables device delays.")
@click.option("-c", "--cleanup", is_flag=True, help="With --history: forget completed entries.")
@click.option("-b", "--broadcast", is_flag=True,
              help="With --history: merge in the history of every reachable fencer first.")
@click.option("-q", "--quiet", is_flag=True, help="Less output.")
@click.option("-V", "--verbose", is_flag=True, help="More output (all history entries).")
@click.option("--endpoint", default=None, help="hacluster: the fencer's request endpoint.")
@click.option("--cib", type=click.Path(dir_okay=False), default=None,
              help="hacluster: run the request here from this CIB file, without a daemon.")
@click.option("--node", default=None, help="hacluster: this node's name (with --cib).")
def command(**opts: Any) -> None:
    """Access the fencing daemon (Pacemaker stonith_admin compatible)."""
    run_tool(lambda: _run(opts))


def main() -> None:
    """Console-script entry point; usage errors exit 64 like Pacemaker."""
    try:
        command.main(standalone_mode=False)
    except click.UsageError as error:
        click.echo(f"stonith_admin: {error.format_message()}", err=True)
        sys.exit(int(ExitCode.USAGE))
    except click.exceptions.Abort:
        sys.exit(int(ExitCode.ERROR))
