"""`hacluster lab`: build, inspect, break and remove a multi-node lab on this machine.

As root the lab uses network namespaces (lab.netns); otherwise, or with --loopback, plain
processes on 127.0.x.y (lab.loopback, fewer faults). The fence agent fence_lab relies on
`kill NODE`, `start NODE` and `status --json`; keep their behaviour and JSON stable:
``{"lab", "backend", "nodes": {NAME: {"namespace", "address", "addresses", "pid",
"running", "daemons": {NAME: {"pid", "running"}}}}, "partition", "loss"}``.
`kill` and `start` exit 0 also when the node already is in the wanted state.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from messaging.command import fail
from messaging.errors import ExitCode, HAError, PeerTimeout, UsageError

from . import loopback, netns
from .layout import AUTH_METHODS, CIB_CONFIGS, LabSpec, LabState, address, load, new_secret
from .procs import alive


class LabExists(HAError):
    """`lab up` on a lab that is already up."""

    exit_code = ExitCode.EXISTS


def _is_root() -> bool:
    return os.geteuid() == 0


def _load(name: str) -> LabState | None:
    return (load(name, False) if _is_root() else None) or load(name, True)


def _need(name: str) -> LabState:
    state = _load(name)
    if state is None:
        raise UsageError(f"lab {name} is not up (run 'hacluster lab up')")
    return state


def node_running(state: LabState, name: str) -> bool:
    node = state.node(name)
    if state.spec.loopback:
        return loopback.node_running(node)
    return netns.holder_alive(node)


def status_json(state: LabState) -> dict[str, Any]:
    """The stable `lab status --json` object."""
    spec, nodes = state.spec, {}
    for name, node in state.nodes.items():
        running = node_running(state, name)
        nodes[name] = {
            "namespace": node.namespace or None,
            "address": address(spec, node.index),
            "addresses": [address(spec, node.index, k) for k in range(spec.links)],
            "pid": node.holder_pid if running and node.holder_pid else None,
            "running": running,
            "state_dir": str(Path(node.directory) / "state"),
            "daemons": {d: {"pid": p, "running": running and alive(p)}
                        for d, p in node.pids.items()},
        }
    return {"lab": spec.name, "backend": "loopback" if spec.loopback else "netns",
            "nodes": nodes, "partition": state.partition, "loss": state.loss}


def wait_for_view(state: LabState, nodes: list[str], timeout: float) -> float:
    """Wait until `nodes` all report one view made of exactly them; seconds it took."""
    from ccm.api import CcmClient  # `up`'s wait only, not `start`/`kill`

    start = time.monotonic()
    want = sorted(nodes)
    while time.monotonic() - start < timeout:
        seen = set()
        for name in nodes:
            try:
                status = CcmClient(Path(state.nodes[name].directory) / "state").query(0.5)
                seen.add((status.view_id, status.coordinator, tuple(status.members)))
            except HAError:
                seen.add((0, "", ()))
        if len(seen) == 1 and list(next(iter(seen))[2]) == want:
            return time.monotonic() - start
        time.sleep(0.1)
    raise PeerTimeout(f"nodes {' '.join(nodes)} did not agree on one view in {timeout}s")


def idle_dc(state: LabState, nodes: list[str]) -> str | None:
    """The DC when every one of `nodes` runs a controller that names it, all see exactly
    `nodes` as members, the DC is idle (S_IDLE, no transition running) and the others
    have joined it (S_NOT_DC); None otherwise."""
    from crmd.control import query_status

    answers = []
    for name in nodes:
        try:
            answers.append(query_status(Path(state.nodes[name].directory) / "state", 1.0))
        except HAError:
            return None
    dcs = {a.dc for a in answers}
    if len(dcs) != 1 or "" in dcs or any(sorted(a.members) != sorted(nodes) for a in answers):
        return None
    dc = dcs.pop()
    settled = all(a.idle_dc and a.transition == "idle" if a.node == dc
                  else a.state == "S_NOT_DC" for a in answers)
    return dc if settled else None


def wait_for_idle_dc(state: LabState, nodes: list[str], timeout: float) -> tuple[str, float]:
    """Wait until `idle_dc` names a DC; (the DC, seconds it took)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        dc = idle_dc(state, nodes)
        if dc is not None:
            return dc, time.monotonic() - start
        time.sleep(0.1)
    raise PeerTimeout(f"no idle DC among {' '.join(nodes)} after {timeout}s")


def wait_until_settled(state: LabState, nodes: list[str], timeout: float) -> float:
    """Wait until `nodes` agree on one view and, with crm on, a DC among them is idle;
    seconds it took. A benchmark that kills nodes waits for this before its next kill: the
    DC fences a node it lost uncleanly even when the node has booted again meanwhile (as
    Pacemaker does: a member whose controller is gone is "no longer available"), and a
    fencing reboot that landed in the next trial took a survivor down for seconds, or for
    good when that trial's victim was the DC itself, in the middle of the reboot."""
    took = wait_for_view(state, nodes, timeout)
    if state.spec.crm and not state.spec.loopback and controller_installed():
        took += wait_for_idle_dc(state, nodes, max(1.0, timeout - took))[1]
    return took


@click.group("lab")
@click.option("--name", default=lambda: os.environ.get("HACLUSTER_LAB", "hclab"),
              show_default="hclab or $HACLUSTER_LAB", help="lab name (namespace prefix)")
@click.pass_context
def lab(ctx: click.Context, name: str) -> None:
    """A multi-node hacluster lab in network namespaces on this machine."""
    ctx.obj = name


@lab.command()
@click.option("--nodes", "count", default=3, show_default=True, help="1..16 nodes")
@click.option("--links", default=1, show_default=True, help="1 or 2 links per node")
@click.option("--media", type=click.Choice(["ucast", "bcast"]), default="ucast",
              show_default=True)
@click.option("--keepalive", default=200, show_default=True, help="milliseconds")
@click.option("--deadtime", default=1000, show_default=True, help="milliseconds")
@click.option("--auth", type=click.Choice(AUTH_METHODS), default="hmac-sha256",
              show_default=True)
@click.option("--loopback", "force_loopback", is_flag=True,
              help="no namespaces (the default when not root)")
@click.option("--wait", default=0.0, help="wait up to this many seconds for one view")
@click.option("--crm/--no-crm", default=True, show_default=True,
              help="'crm respawn' in ha.cf: also start the cluster daemons (+ a seed CIB)")
@click.option("--config", "cib", type=click.Choice(CIB_CONFIGS), default="demo",
              show_default=True,
              help="seed CIB: demo (lab/demo.xml: a virtual IP and a service in a group, "
              "fenced by fence_lab) or empty (the fence device only)")
@click.option("--dc-timeout", default=120.0, show_default=True,
              help="with --crm: return once a DC is idle, failing after this many seconds "
              "(0: do not wait)")
@click.pass_obj
def up(name: str, count: int, links: int, media: str, keepalive: int, deadtime: int,
       auth: str, force_loopback: bool, wait: float, crm: bool, cib: str,
       dc_timeout: float) -> None:
    """Create the nodes, write ha.cf/authkeys, start every node's daemons."""
    try:
        if _load(name) is not None:
            raise LabExists(f"lab {name} is already up (run 'hacluster lab down' first)")
        use_loopback = force_loopback or not _is_root()
        spec = LabSpec(name, count, links, media, keepalive, deadtime, auth,  # type: ignore[arg-type]
                       loopback=use_loopback, crm=crm, cib=cib)
        state = (loopback.up if use_loopback else netns.up)(spec, new_secret())
        if wait:
            took = wait_for_view(state, list(state.nodes), wait)
            click.echo(f"lab {name}: {count} nodes agree on one view after {took:.1f}s")
        if crm and dc_timeout and not use_loopback:  # the loopback lab runs no crmd
            dc, took = wait_for_idle_dc(state, list(state.nodes), dc_timeout)
            click.echo(f"lab {name}: {count} nodes, DC {dc} idle after {took:.1f}s")
        elif not wait:
            click.echo(f"lab {name}: {count} nodes started")
        if crm and not use_loopback:
            show_cluster_status(state)
    except HAError as error:
        fail(error)


def controller_installed() -> bool:
    """Whether this build has crmd's daemon (without it, nothing places the resources)."""
    import importlib.util

    return importlib.util.find_spec("crmd.__main__") is not None


def show_cluster_status(state: LabState) -> None:
    """`crm_mon -1` on the first node, or why there is no such status to show."""
    first = next(iter(state.nodes))
    if not controller_installed():
        click.echo(f"lab {state.spec.name}: this build has no cluster controller (crmd) yet, "
                   "so the demo resources are configured but not started (see them with "
                   f"'hacluster lab exec {first} cibadmin -Q -o resources')")
        return
    code = netns.exec_in(state, first, ["crm_mon", "-1"])
    if code != 0:
        click.echo(f"lab {state.spec.name}: crm_mon -1 on {first} exited {code} "
                   "(see above); the lab itself is up")


@lab.command()
@click.pass_obj
def down(name: str) -> None:
    """Stop and remove everything of the lab (idempotent, also after a crash)."""
    try:
        state = _load(name)
        if state is not None and state.spec.loopback:
            removed = loopback.down(state)
        elif _is_root():
            removed = netns.down(name, state)
        else:
            removed = []
        for loopback_state in (load(name, True),) if _is_root() else ():
            if loopback_state is not None:
                removed += loopback.down(loopback_state)
        for path in _state_files(name):
            path.unlink(missing_ok=True)
            path.with_suffix(".lock").unlink(missing_ok=True)  # save's lock (lab.layout)
            for lock in path.parent.glob(f"{glob.escape(path.stem)}.*.power"):
                lock.unlink(missing_ok=True)  # lab.layout.power_lock, one per node
        click.echo(f"lab {name}: removed {len(removed)} namespace(s)/node(s)")
    except HAError as error:
        fail(error)


def _state_files(name: str) -> list[Path]:
    from .layout import state_path

    return [state_path(name, True)] + ([state_path(name, False)] if _is_root() else [])


@lab.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object")
@click.pass_obj
def status(name: str, as_json: bool) -> None:
    """Nodes, namespaces, addresses, holder pids and whether each node runs."""
    try:
        data = status_json(_need(name))
    except HAError as error:
        fail(error)
    if as_json:
        click.echo(json.dumps(data, sort_keys=True))
        return
    click.echo(f"lab {data['lab']} ({data['backend']})")
    for node, info in data["nodes"].items():
        state = "running" if info["running"] else "stopped"
        click.echo(f"  {node:<4} {state:<8} {info['address']:<16} pid={info['pid']} "
                   f"ns={info['namespace']}")
    if data["partition"]:
        click.echo("  partition: " + " | ".join(",".join(g) for g in data["partition"]))
    for node, pct in data["loss"].items():
        click.echo(f"  loss: {node} {pct}%")


@lab.command()
@click.argument("node")
@click.pass_obj
def kill(name: str, node: str) -> None:
    """SIGKILL everything of NODE (a power cut); network faults on it stay until `heal`."""
    try:
        state = _need(name)
        (loopback.kill_node if state.spec.loopback else netns.kill_node)(state, node)
    except HAError as error:
        fail(error)


@lab.command()
@click.argument("nodes", nargs=-1, required=True)
@click.pass_obj
def start(name: str, nodes: tuple[str, ...]) -> None:
    """Boot NODES again (fresh /run, same ha.cf and state dir); several at once are all
    powered on before any boots, as a rack when power returns."""
    try:
        state = _need(name)
        for node in nodes:
            state.node(node)  # an unknown name fails before any node is powered on
        if state.spec.loopback:
            for node in nodes:
                loopback.start_node(state, node)
        else:
            netns.start_nodes(state, list(nodes))
    except HAError as error:
        fail(error)


def _netns_state(name: str, what: str) -> LabState:
    state = _need(name)
    if state.spec.loopback:
        raise loopback.unsupported(what)
    return state


@lab.command()
@click.argument("groups", nargs=-1, required=True)
@click.pass_obj
def partition(name: str, groups: tuple[str, ...]) -> None:
    """Split the network: GROUPS are comma-separated node lists, e.g. n1,n2 n3."""
    try:
        state = _netns_state(name, "partition")
        parsed = [[n for n in group.split(",") if n] for group in groups]
        if len(parsed) < 2:
            raise UsageError("give at least two groups, e.g. 'lab partition n1,n2 n3'")
        netns.partition(state, parsed)
    except HAError as error:
        fail(error)


@lab.command()
@click.pass_obj
def heal(name: str) -> None:
    """Clear every fault: partitions, packet loss and links set down."""
    try:
        netns.heal(_netns_state(name, "heal"))
    except HAError as error:
        fail(error)


@lab.command()
@click.argument("node")
@click.argument("state_word", metavar="up|down", type=click.Choice(["up", "down"]))
@click.option("--link", type=int, default=None, help="link number (default: every link)")
@click.pass_obj
def link(name: str, node: str, state_word: str, link: int | None) -> None:
    """Set NODE's link(s) down (cable pulled) or up."""
    try:
        netns.set_link(_netns_state(name, "link"), node, state_word == "up", link)
    except HAError as error:
        fail(error)


@lab.command()
@click.argument("node")
@click.argument("percent", type=int)
@click.pass_obj
def loss(name: str, node: str, percent: int) -> None:
    """Drop PERCENT% of NODE's frames in both directions (0 removes it).

    The loss is on NODE's switch port: it stays across `kill`/`start` until `heal`."""
    try:
        netns.set_loss(_netns_state(name, "loss"), node, percent)
    except HAError as error:
        fail(error)


@lab.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("node")
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def exec_(name: str, node: str, argv: tuple[str, ...]) -> None:
    """Run a command inside NODE (its network, mounts, hostname and PID namespace)."""
    try:
        sys.exit(netns.exec_in(_netns_state(name, "exec"), node, list(argv)))
    except HAError as error:
        fail(error)
