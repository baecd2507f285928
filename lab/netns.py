"""The network-namespace lab: N nodes as namespaces on one machine, faults with nftables.

Topology (root only): a switch namespace ``<lab>-sw`` holds one Linux bridge per link
(multicast snooping off); each node ``<lab>-nI`` has a network namespace with ``ethK``
(10.213.(60+K).(10+I)/24), a veth whose peer ``pI-K`` is a bridge port. Nothing of the lab
touches the machine's own namespaces. Each node runs `lab.holder` as PID 1 of its own PID,
UTS and mount namespaces; its launcher is forked into them by the power switch's node
forker (lab.nodefork: setns, the imports shared) or started with ``nsenter``, and dies with it.

Faults live in one nft ``bridge`` table in the switch namespace: chain ``partition`` drops
frames between ports of different groups, chain ``loss`` drops ``numgen random mod 100 <
PCT`` of a node's frames both ways. `lab link` sets a node's ``ethK`` down/up.

Fault lifetime: faults belong to the network, not to a node. Partitions and loss are rules
on the switch ports and a link set down is ``ethK`` in the node's network namespace, which
outlives the node's processes, so `kill`/`start` of a node keeps all three (a reboot does
not repair a cable); `heal` clears every one of them, and `status` lists partitions and loss.

Fencing: `up` starts the lab's power switch (lab.pdu, socket bind-mounted into every node
at /run/hacluster-pdu/pdu.sock) and, with `crm`, seeds the cib daemon's store with a fence_lab
device, so stonithd inside any node can power other nodes off and on.

Safety: processes are only ever signalled after checking that /proc/PID/ns/net is the
recorded namespace of the node (never the root namespace), never by name. `down` works from
the state file or, after a crash that lost it, from namespace names with the lab prefix.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from messaging.errors import HAError, NotFoundError, PeerTimeout, UsageError

from .layout import (
    LabSpec,
    LabState,
    NodeState,
    address,
    clear_runtime_files,
    data_root,
    link_name,
    load,
    pdu_dir,
    power_lock,
    save,
    write_node_files,
)
from .procs import (
    NORMAL_PRIORITY,
    alive,
    child_of,
    descendants,
    in_netns,
    netns_inode,
    pids_in_netns,
    power_switch_pids,
    start_daemons,
)

NFT_TABLE = "hclab"
HOLDER_TIMEOUT = 15.0


def run(*argv: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    """Run one command; failures become a one-line HAError naming it."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise HAError(f"{argv[0]}: {error}") from None
    if check and done.returncode != 0 and not quiet:
        raise HAError(f"'{' '.join(argv)}' failed: {done.stderr.strip() or done.returncode}")
    return done


def _ns(spec: LabSpec, node: str) -> str:
    return f"{spec.name}-{node}"


def up(spec: LabSpec, secret: str) -> LabState:
    """Build the switch and every node, write their files, start their daemons."""
    switch = f"{spec.name}-sw"
    run("ip", "netns", "add", switch)
    state = LabState(spec, {}, switch)
    save(state)  # from here on, `down` can clean up whatever follows
    for link in range(spec.links):
        run("ip", "-n", switch, "link", "add", f"br{link}", "type", "bridge",
            "mcast_snooping", "0")
        run("ip", "-n", switch, "link", "set", f"br{link}", "up")
    _nft_setup(switch)
    root = data_root(False) / spec.name
    for index, name in enumerate(spec.node_names(), start=1):
        node = NodeState(name, index, str(root / name), namespace=_ns(spec, name))
        state.nodes[name] = node
        _wire_node(spec, switch, node)
        save(state)
    for node in state.nodes.values():
        write_node_files(spec, node, secret, "/var/lib/hacluster")
        if spec.crm:  # the cib daemon starts from it; stonithd and attrd follow the cib
            from .cib_seed import seed_store  # lxml and cib: `up` only, not `start`/`kill`

            seed_store(Path(node.directory) / "state", spec)
    start_pdu(state)
    start_nodes(state, list(state.nodes))
    save(state)
    return state


def _wire_node(spec: LabSpec, switch: str, node: NodeState) -> None:
    run("ip", "netns", "add", node.namespace)
    node.netns_inode = netns_inode(node.namespace)
    run("ip", "-n", node.namespace, "link", "set", "lo", "up")
    for link in range(spec.links):
        port, dev = f"p{node.index}-{link}", link_name(spec, link)
        run("ip", "link", "add", port, "netns", switch, "type", "veth", "peer", "name", dev,
            "netns", node.namespace)
        run("ip", "-n", switch, "link", "set", port, "master", f"br{link}", "up")
        run("ip", "-n", node.namespace, "addr", "add",
            f"{address(spec, node.index, link)}/24", "brd", "+", "dev", dev)
        run("ip", "-n", node.namespace, "link", "set", dev, "up")


def _nft_setup(switch: str) -> None:
    script = (
        f"table bridge {NFT_TABLE} {{\n"
        "  chain partition { }\n  chain loss { }\n"
        "  chain forward { type filter hook forward priority 0; policy accept;\n"
        "    jump partition\n    jump loss\n  }\n}\n"
    )
    _nft(switch, script)


def _nft(switch: str, script: str) -> None:
    try:
        done = subprocess.run(["ip", "netns", "exec", switch, "nft", "-f", "-"], input=script,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise HAError(f"nft: {error}") from None
    if done.returncode != 0:
        raise HAError(f"nft failed: {done.stderr.strip()}")


def holder_alive(node: NodeState) -> bool:
    return node.holder_pid is not None and alive(node.holder_pid) and in_netns(
        node.holder_pid, node.netns_inode)


def start_node(state: LabState, name: str) -> None:
    """Boot a node: a fresh holder (PID 1 with private mounts), then its daemons; on a
    node still powered on whose launcher exited, only its daemons."""
    start_nodes(state, [name])


def start_nodes(state: LabState, names: list[str]) -> None:
    """Boot several nodes as power returning to a rack does: side by side, each powered on
    and booted by a thread of its own (the node forker forks the requests that arrive
    together at once). Run as one command per node, 16 nodes paid 16 interpreter starts of
    this command on a loaded 2-core host; booted one after the other by this command, the
    last node's launcher started 3.3-5.9 s after the first. Every node is attempted; the
    first failure is raised once all are done (the nodes that did boot stay up)."""
    if len(names) == 1:
        _power_and_boot(state, names[0])
        return
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="boot") as pool:
        booting = [pool.submit(_power_and_boot, state, name) for name in names]
    for each in booting:
        each.result()


def _power_and_boot(state: LabState, name: str) -> None:
    holder = power_on(state, name)
    if holder is not None:
        boot(state, name, holder)
        return
    node = state.node(name)
    if node.holder_pid is not None and _stack_exited(node):
        # powered on, its cluster stack gone: its heartbeat died and the launcher took the
        # node out of the cluster with no fencing to reboot it (as pacemakerd stops once
        # corosync died). `lab start` starts the stack again, as `systemctl start` would.
        start_booted(state, name, node.holder_pid)


def _stack_exited(node: NodeState) -> bool:
    """Whether the node's recorded launcher (or daemons) ran and none runs any more (none
    recorded yet: another command is booting it)."""
    return bool(node.pids) and not any(alive(pid) and in_netns(pid, node.netns_inode)
                                       for pid in node.pids.values())


def power_on(state: LabState, name: str) -> int | None:
    """Apply power: spawn the node's holder and record it (the node counts as on from
    here, as a machine does once powered); returns its pid, None when it already ran.
    The node is not booted yet: `boot` starts its daemons once its mounts exist."""
    with power_lock(state.spec, name):
        recorded = load(state.spec.name, False)  # another command may have powered it on
        node = state.node(name)
        if recorded is not None and name in recorded.nodes:
            node.holder_pid = recorded.nodes[name].holder_pid
            node.pids = recorded.nodes[name].pids
        if holder_alive(node):
            return None
        return _spawn_holder(state, node)


def _spawn_holder(state: LabState, node: NodeState) -> int:
    """Start the node's holder (under the power lock) and record it; its pid."""
    name = node.name
    drop_resource_addresses(state, name)
    directory = Path(node.directory)
    (directory / "ready").unlink(missing_ok=True)
    clear_runtime_files(directory / "state")
    from .nodefork import boot_holder, socket_path

    forked = boot_holder(socket_path(state.spec.name), name, node.namespace, directory,
                         directory / "log" / "holder.log")
    holder = forked if forked is not None else _exec_holder(node, directory)
    node.holder_pid, node.pids = holder, {}
    save(state)
    return holder


def _exec_holder(node: NodeState, directory: Path) -> int:
    """Start the holder as a machine would start its init: its own interpreter, in new
    namespaces made by `ip netns exec` and `unshare`; its pid."""
    name = node.name
    log = open(directory / "log" / "holder.log", "ab")  # noqa: SIM115 - handed to the child
    parent = subprocess.Popen(
        [*NORMAL_PRIORITY, "ip", "netns", "exec", node.namespace, "unshare", "--pid",
         "--fork", "--mount-proc", "--uts", "--mount", "--propagation", "private", "--",
         sys.executable, "-m", "lab.holder", name, str(directory)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        cwd="/", env=_env())
    log.close()
    holder = child_of(parent.pid, HOLDER_TIMEOUT)
    if holder is None:
        raise PeerTimeout(f"node holder did not start in {HOLDER_TIMEOUT:g}s "
                          f"(see {directory}/log)")
    return holder


def boot(state: LabState, name: str, holder: int) -> bool:
    """Start the daemons of the node powered on as `holder` once that holder prepared the
    mounts, and record them. False, with nothing started, when it died (power cut) first."""
    if not wait_ready(state, name, holder):
        return False
    start_booted(state, name, holder)
    return True


def wait_ready(state: LabState, name: str, holder: int) -> bool:
    """Wait until the holder `holder` wrote the node's ready file; False if it died."""
    directory = Path(state.node(name).directory)
    deadline = time.monotonic() + HOLDER_TIMEOUT
    while not (directory / "ready").exists():
        if not alive(holder):
            return False
        if time.monotonic() > deadline:
            raise PeerTimeout(f"node holder did not come up in {HOLDER_TIMEOUT:g}s "
                              f"(see {directory}/log)")
        time.sleep(0.01)
    return True


def start_booted(state: LabState, name: str, holder: int) -> None:
    """Start the daemons inside the ready holder `holder` and save them in `state`."""
    node = state.node(name)
    node.pids = start_daemons(holder, Path(node.directory), _env(), state.spec.name)
    save(state)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repo + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _is_pdu(state: LabState, pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return alive(pid) and b"lab.pdu" in argv and state.spec.name.encode() in argv


def start_pdu(state: LabState) -> None:
    """Start the lab's power switch (lab.pdu) in our namespaces unless it runs, with blank
    command-line room for the launchers its node forker forks (lab.nodefork)."""
    from .nodefork import TITLE_ROOM

    if state.pdu_pid is not None and _is_pdu(state, state.pdu_pid):
        return
    sock = pdu_dir(state.spec.name) / "pdu.sock"
    sock.parent.mkdir(parents=True, exist_ok=True)
    sock.unlink(missing_ok=True)
    log_path = data_root(False) / state.spec.name / "pdu.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([*NORMAL_PRIORITY, sys.executable, "-m", "lab.pdu",
                                    state.spec.name, " " * TITLE_ROOM], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=log, start_new_session=True, cwd="/",
                                   env=_env())
    state.pdu_pid = process.pid
    save(state)
    deadline = time.monotonic() + 15
    while not sock.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise HAError(f"the lab's power switch did not start (see {log_path})")
        time.sleep(0.02)


def stop_pdu(state: LabState) -> None:
    """SIGTERM the recorded power switch (checked to be this lab's lab.pdu), then KILL."""
    pid = state.pdu_pid
    if pid is not None and _is_pdu(state, pid):
        _stop_switch(pid)
    state.pdu_pid = None


def _stop_switch(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def kill_node(state: LabState, name: str) -> None:
    """SIGKILL every process of the node at once (a power cut), children before parents,
    then anything else still in its network namespace. Killing the PID-namespace holder
    alone also ends the rest, but only once the holder itself runs to die: on a loaded host
    the node's heartbeat (real-time) went on sending keepalives for up to 235 ms after the
    "cut". Children go first because a daemon whose launcher dies gets SIGTERM
    (PR_SET_PDEATHSIG) and would leave cleanly, announcing it. The sweep of the namespace
    catches what the record missed: a second holder booted by a racing `lab start` and the
    power switch kept its daemons (with the old authkeys) running after `lab kill`."""
    node = state.node(name)
    with power_lock(state.spec, name):
        if holder_alive(node):
            assert node.holder_pid is not None
            roots = [node.holder_pid, *node.pids.values()]  # the daemons: not its children
            _kill_all(node, [*roots, *(pid for root in roots for pid in descendants(root))])
        _kill_all(node, pids_in_netns(node.netns_inode))
        node.holder_pid = None
        node.pids = {}
        save(state)
    drop_resource_addresses(state, name)


def _kill_all(node: NodeState, pids: list[int]) -> None:
    """SIGKILL `pids` (those in the node's namespace) in reverse order; wait until gone."""
    killed = []
    for pid in reversed(pids):
        if in_netns(pid, node.netns_inode):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.01)


def drop_resource_addresses(state: LabState, name: str) -> None:
    """Remove every address but the lab's own from the node's interfaces: the namespace
    outlives the node's processes, but a machine that lost power (or boots) no longer holds
    the addresses its resources (IPaddr2) had added, and must not answer for them."""
    node = state.node(name)
    own = {address(state.spec, node.index, k) for k in range(state.spec.links)}
    for link in range(state.spec.links):
        dev = link_name(state.spec, link)
        shown = run("ip", "-n", node.namespace, "-o", "-4", "addr", "show", "dev", dev,
                    check=False).stdout
        for line in shown.splitlines():
            words = line.split()
            if "inet" in words:
                cidr = words[words.index("inet") + 1]
                if cidr.split("/")[0] not in own:
                    run("ip", "-n", node.namespace, "addr", "del", cidr, "dev", dev,
                        check=False)


def partition(state: LabState, groups: list[list[str]]) -> None:
    """Cut every link between nodes of different groups (both ways, on the bridge)."""
    side = {n: i for i, group in enumerate(groups) for n in group}
    for name in side:
        state.node(name)
    rules = []
    for a, ga in side.items():
        for b, gb in side.items():
            if ga != gb:
                ia, ib = state.nodes[a].index, state.nodes[b].index
                rules.append(f'add rule bridge {NFT_TABLE} partition iifname "p{ia}-*" '
                             f'oifname "p{ib}-*" drop')
    _nft(state.switch, f"flush chain bridge {NFT_TABLE} partition\n" + "\n".join(rules) + "\n")
    state.partition = groups
    save(state)


def set_loss(state: LabState, name: str, percent: int) -> None:
    """Random loss of `percent`% on every frame the node sends or receives."""
    if not 0 <= percent <= 100:
        raise UsageError(f"loss must be 0..100 percent, not {percent}")
    state.node(name)
    state.loss = {k: v for k, v in state.loss.items() if k != name}
    if percent:
        state.loss[name] = percent
    rules = []
    for node, pct in sorted(state.loss.items()):
        port = f"p{state.nodes[node].index}-*"
        for direction in ("iifname", "oifname"):
            rules.append(f'add rule bridge {NFT_TABLE} loss {direction} "{port}" '
                         f"numgen random mod 100 < {pct} drop")
    _nft(state.switch, f"flush chain bridge {NFT_TABLE} loss\n" + "\n".join(rules) + "\n")
    save(state)


def heal(state: LabState) -> None:
    """Clear every fault the lab can set: partitions, loss and links set down."""
    partition(state, [])
    state.loss = {}
    _nft(state.switch, f"flush chain bridge {NFT_TABLE} loss\n")
    save(state)
    for name in state.nodes:
        set_link(state, name, True, None)


def set_link(state: LabState, name: str, up_: bool, link: int | None) -> None:
    node = state.node(name)
    links = range(state.spec.links) if link is None else [link]
    for k in links:
        if not 0 <= k < state.spec.links:
            raise UsageError(f"the lab has {state.spec.links} link(s); eth{k} does not exist")
        run("ip", "-n", node.namespace, "link", "set", link_name(state.spec, k),
            "up" if up_ else "down")


def exec_in(state: LabState, name: str, argv: list[str]) -> int:
    node = state.node(name)
    if not holder_alive(node):
        raise NotFoundError(f"node {name} is not running")
    assert node.holder_pid is not None
    return subprocess.call([*NORMAL_PRIORITY, "nsenter", "-t", str(node.holder_pid), "-m",
                            "-u", "-n", "-p", "--wd=/", "--", *argv], env=_exec_env())


def _exec_env() -> dict[str, str]:
    """`lab exec`'s environment: our tools (crm_mon, crm, cibadmin, ...) before Debian's
    Pacemaker binaries of the same names, which would only fail to reach a cluster."""
    env = _env()
    ours = str(Path(sys.executable).parent)
    env["PATH"] = ours + (":" + env["PATH"] if env.get("PATH") else "")
    return env


def down(spec_name: str, state: LabState | None) -> list[str]:
    """Remove every process, namespace and file of the lab; returns what was removed."""
    removed = []
    prefix = f"{spec_name}-"
    if state is not None:
        stop_pdu(state)  # first: it must not switch nodes back on while they go
    for pid in power_switch_pids(spec_name):  # also when the state file is gone
        _stop_switch(pid)
    names = {n.namespace for n in state.nodes.values()} if state else set()
    if state and state.switch:
        names.add(state.switch)
    listed = run("ip", "netns", "list", check=False).stdout.split("\n")
    names |= {line.split()[0] for line in listed if line.startswith(prefix)}
    inodes = {n.netns_inode for n in state.nodes.values()} if state else set()
    inodes |= {netns_inode(namespace, missing_ok=True) for namespace in names}
    killed = []
    for inode in sorted(i for i in inodes if i):
        for pid in pids_in_netns(inode):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.02)  # SIGKILL is asynchronous: return only once they are gone
    for namespace in sorted(names):
        if run("ip", "netns", "del", namespace, check=False).returncode == 0:
            removed.append(namespace)
    shutil.rmtree(data_root(False) / spec_name, ignore_errors=True)  # ours even without state
    return removed
