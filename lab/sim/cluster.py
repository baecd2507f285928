"""A whole cluster with controllers, driven from tests: `lab.sim` with crmd and the CIB.

    cluster = ControllerCluster(Path("examples/cib-3node.xml"), stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    cluster.kill("beta")          # power cut; heartbeat and ccm notice, the DC fences
    cluster.run_for(10.0)
    assert cluster.violations == []

Every node runs heartbeat, ccm, lrmd, stonithd, the CIB holder and crmd on the one
simulation (`lab.sim.world`): this module only builds the configuration and answers
questions. `run_for` audits after every event of the queue: a unique resource active on
two nodes at once (sampled from every live node's lrmd agents, never from the CIB) is
recorded in `violations`. Fencing powers the target off and leaves it off (the fence
devices' reboot never powers it back: tests `revive` nodes explicitly).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from crmd.api import Controller, ControllerTiming, LrmdReplaced, ShutdownRequested
from lab.audit import DoubleRunAudit, Instance, running_instances
from messaging.supervisor import RespawnPolicy
from stonithd import api as fencing

from .agents import FenceDevices, ResourceAgents
from .checks import components
from .controller import CIB, CRMD, ControllerSettings, cib_text
from .daemons import ALL_DAEMONS, SimConfig
from .world import Simulation

FENCE_DEVICE = "fencing"
NEVER = 1e9
LRMD_NOTICE_S = 1.0  # crmd's daemon asks its lrmd who it is every second


def nodes_cib(names: list[str]) -> bytes:
    """A CIB with these nodes (ids 1..N), fencing off and no resources."""
    nodes = "".join(f'<node id="{i}" uname="{name}"/>' for i, name in enumerate(names, 1))
    return (
        '<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" '
        'num_updates="0" admin_epoch="0"><configuration><crm_config>'
        '<cluster_property_set id="cib-bootstrap-options">'
        '<nvpair id="opt-stonith-enabled" name="stonith-enabled" value="false"/>'
        '</cluster_property_set></crm_config>'
        f"<nodes>{nodes}</nodes><resources/><constraints/></configuration><status/></cib>"
    ).encode()


def cluster_cib(cib: Path | bytes, *, stonith: bool) -> bytes:
    """The CIB (a file or its text) with an empty status; with `stonith`, fencing enabled
    and one fence_lab device able to fence every node."""
    text = cib if isinstance(cib, bytes) else cib.read_bytes()
    root = etree.fromstring(text)
    status = root.find("status")
    if status is None:
        status = etree.SubElement(root, "status")
    for child in list(status):
        status.remove(child)
    if stonith:
        for pair in root.iter("nvpair"):
            if pair.get("name") == "stonith-enabled":
                pair.set("value", "true")
        resources = root.find("configuration/resources")
        assert resources is not None
        resources.insert(0, etree.fromstring(
            f'<primitive id="{FENCE_DEVICE}" class="stonith" type="fence_lab"/>'))
    return etree.tostring(root)


class ControllerCluster:
    """The nodes of a CIB's `nodes` section, every daemon on each, one simulation."""

    def __init__(self, cib: Path | bytes, *, stonith: bool = False,
                 results_from_cib: bool = True, seed: int = 1, keepalive: float = 0.2,
                 deadtime: float = 1.0, timing: ControllerTiming | None = None) -> None:
        self.settings = ControllerSettings(cluster_cib(cib, stonith=stonith),
                                           results_from_cib=results_from_cib)
        if timing is not None:
            self.settings.timing = timing
        self.names = sorted(self.settings.node_ids())
        self.agents = ResourceAgents()
        self.devices = FenceDevices(reboot_delay=NEVER)
        config = SimConfig(keepalive=keepalive, deadtime=deadtime,
                           resource_agents=self.agents, fence_devices=self.devices,
                           fencing_cib=self.settings.cib.decode() if stonith else None,
                           extra={"crmd": self.settings})
        self.sim = Simulation([*ALL_DAEMONS, CIB, CRMD], seed=seed, config=config)
        self.violations: list[tuple[float, str, str, str]] = []
        self.respawn = RespawnPolicy()  # every node's launcher: the daemons' one policy
        self._crmd_started: dict[str, float] = {}
        self._fence_devices = self._fencing_resources()
        self.lrmd_audit = DoubleRunAudit(self._unique_resources() - self._fence_devices)

    # ----------------------------------------------------------------- faults
    def start_all(self) -> None:
        self.sim.add_nodes(self.names)

    def start_only(self, *names: str) -> None:
        """Every configured node exists (its fence device can reach it) but only these
        boot: the others stay powered off until `revive`d or fenced with "on"."""
        self.sim.add_nodes(self.names, boot=False)
        self.sim.start(*names)

    def kill(self, name: str) -> None:
        self.sim.kill(name)

    def revive(self, name: str) -> None:
        """The node boots again (empty history, a fresh CIB copy) and the network heals."""
        self.sim.start(name)
        self.sim.network.heal()

    def partition(self, groups: list[list[str]]) -> None:
        self.sim.network.groups = [frozenset(g) for g in groups]

    def heal(self) -> None:
        self.sim.network.heal()

    def restart_controller(self, name: str) -> None:
        """Only crmd restarts: the node stays in the view, its lrmd keeps running."""
        self.sim.restart_daemon(name, "crmd")

    def kill_controller(self, name: str) -> None:
        """kill -9 of `name`'s crmd: the node's launcher starts it again after the delay
        its `RespawnPolicy` gives (a node booted again meanwhile keeps its own crmd)."""
        node = self.sim.nodes[name]
        if not node.alive:
            return
        started = self._crmd_started.get(name, 0.0)
        delay = self.respawn.on_exit(f"{name}:crmd", -9, started, self.sim.now)
        self.sim.stop_daemon(name, "crmd")
        if delay is None:
            return
        boot = node.incarnation

        def respawn() -> None:
            if node.alive and node.incarnation == boot:
                self._crmd_started[name] = self.sim.now
                self.sim.restart_daemon(name, "crmd")

        self.sim.scheduler.call_at(self.sim.now + delay, respawn)

    def kill_heartbeat(self, name: str) -> None:
        """kill -9 of `name`'s heartbeat, its launcher asking the `RespawnPolicy` what
        now. heartbeat's death is the node's (`RespawnPolicy.ends_node`): every daemon is
        killed at once and nothing is announced, so the node falls silent as in a power
        cut (its peers fence it); a policy that respawned heartbeat instead starts it again
        after its delay, the rest of the node running on."""
        node = self.sim.nodes[name]
        if not node.alive:
            return
        if self.respawn.ends_node("heartbeat"):
            self.sim.kill(name)
            return
        delay = self.respawn.on_exit(f"{name}:heartbeat", -9, 0.0, self.sim.now)
        self.sim.stop_daemon(name, "heartbeat")
        if delay is not None:
            self.sim.scheduler.call_at(self.sim.now + delay,
                                       lambda: self.sim.restart_daemon(name, "heartbeat"))

    def restart_lrmd(self, name: str, noticed_after: float = LRMD_NOTICE_S) -> None:
        """Only lrmd dies and is respawned (kill -9 and the launcher): its operations and
        monitors die with it, the resources it started keep running; the node's crmd
        notices another lrmd `noticed_after` seconds later (the daemon pings its lrmd
        every second) and is fed `LrmdReplaced`."""
        self.sim.restart_daemon(name, "lrmd")
        wall = self.sim.scheduler.wall
        self.sim.deliver(name, "crmd", lambda now: LrmdReplaced(now, wall()),
                         self.sim.now + noticed_after, self.sim.nodes[name].incarnation)

    def stop_controller(self, name: str) -> None:
        """Only crmd dies and stays down: heartbeat, ccm and lrmd run on, so the node stays
        in the view without a controller (`restart_controller` starts it again)."""
        self.sim.stop_daemon(name, "crmd")

    def request_shutdown(self, name: str) -> None:
        """`hacluster node stop` on `name`: its controller asks the DC."""
        self.sim.feed(name, "crmd",
                      lambda now: ShutdownRequested(name, now, self.sim.scheduler.wall()))

    def break_fencing(self) -> None:
        """Every fencing attempt with the cluster's device fails from now on."""
        self.devices.failing.add(FENCE_DEVICE)

    def fail_resource(self, node: str, resource: str) -> None:
        """The resource dies on `node` behind lrmd's back (its monitor will notice)."""
        self.agents.fail(self.sim.daemon(node, "lrmd"), resource)

    def fail_next(self, node: str, resource: str, action: str) -> None:
        """The next run of `action` of `resource` on `node` fails (generic error)."""
        self.agents.fail_once.add((node, resource, action))

    def lose_request(self, node: str, resource: str, action: str) -> None:
        """`node`'s lrmd never gets the controller's next request for that action."""
        self.settings.lost_requests.add((node, resource, action))

    # ----------------------------------------------------------------- running
    def run_for(self, seconds: float) -> None:
        """Advance time, auditing after every event."""
        scheduler = self.sim.scheduler
        end = self.sim.now + seconds
        while (deadline := scheduler.next_deadline()) is not None and deadline <= end:
            scheduler.step()
            self.audit()
        scheduler.run_until(end)

    def audit(self) -> None:
        """No resource active on two nodes at once, by every live node's lrmd agents; the
        lab's auditor (lab.audit) fed with what every live lrmd's history says runs."""
        now = self.sim.now
        for node, running in self.lrmd_running().items():
            self.lrmd_audit.add(node, now, now, running)
        seen: dict[str, str] = {}
        for node, resources in sorted(self.running().items()):
            for rsc in sorted(resources - self._fence_devices):
                if rsc in seen:
                    self.violations.append((self.sim.now, rsc, seen[rsc], node))
                seen[rsc] = node

    # ----------------------------------------------------------------- questions
    @property
    def now(self) -> float:
        return self.sim.now

    @property
    def alive(self) -> set[str]:
        return {n for n in self.names if self.sim.alive(n)}

    @property
    def with_controller(self) -> set[str]:
        """Live nodes whose crmd runs."""
        return {n for n in self.alive if "crmd" in self.sim.nodes[n].daemons}

    def controller(self, name: str) -> Controller:
        core = self.sim.core(name, "crmd")
        assert isinstance(core, Controller)
        return core

    def running(self) -> dict[str, set[str]]:
        """What every live node's lrmd agents run now."""
        return {n: set(self.agents.running(self.sim.daemon(n, "lrmd")))
                for n in sorted(self.alive)}

    def lrmd_running(self) -> dict[str, dict[str, Instance]]:
        """{node: {resource: call id}} as every live node's lrmd history proves it (the
        lab auditor's reading, `lab.audit.running_instances`)."""
        return {n: running_instances(self.sim.core(n, "lrmd").history())
                for n in sorted(self.alive)}

    def cib_placement(self, node: str | None = None) -> dict[str, set[str]]:
        """Where a node's CIB copy (default: the DC's) says each primitive runs."""
        from pengine.api import unpack_status

        status = unpack_status(self.cib_text(node))
        where: dict[str, set[str]] = {}
        stack = list(status.resources)
        while stack:
            resource = stack.pop()
            stack.extend(resource.children)
            if not resource.children and resource.running_on:
                where[resource.id] = set(resource.running_on)
        return where

    def _unique_resources(self) -> frozenset[str]:
        """Primitives outside clones: the resources that may run on one node only."""
        root = etree.fromstring(self.settings.cib)
        return frozenset(str(p.get("id")) for p in root.iter("primitive")
                         if not any(a.tag in ("clone", "master") for a in p.iterancestors()))

    def _fencing_resources(self) -> frozenset[str]:
        """Fence devices: Pacemaker lets one be active on two nodes for a while (a device
        requires only quorum, so its stop on a node being fenced is implied at once and it
        may start elsewhere before the fencing), so they are not audited as single-active."""
        root = etree.fromstring(self.settings.cib)
        return frozenset(str(p.get("id")) for p in root.iter("primitive")
                         if p.get("class") == "stonith")

    def placement(self) -> set[tuple[str, str]]:
        return {(rsc, n) for n, resources in self.running().items() for rsc in resources}

    def dc_views(self) -> dict[frozenset[str], set[str | None]]:
        """Per partition (nodes that hear each other): the DCs its controllers believe in."""
        running = self.with_controller
        return {group: {self.controller(n).dc for n in group & running}
                for group in components(self.sim)}

    def agreed(self) -> bool:
        """Every partition has exactly one DC, one of its members, believed by all."""
        for group, dcs in self.dc_views().items():
            dc = next(iter(dcs))
            if len(dcs) != 1 or dc not in group or not self.controller(dc).is_dc:
                return False
            if [n for n in group & self.with_controller if self.controller(n).is_dc] != [dc]:
                return False
        return True

    def dc(self) -> str | None:
        dcs = [n for n in sorted(self.with_controller) if self.controller(n).is_dc]
        return dcs[0] if len(dcs) == 1 else None

    def cib_text(self, node: str | None = None) -> bytes:
        """A node's CIB copy (default: the DC's)."""
        return cib_text(self.sim, node or self.dc() or sorted(self.alive)[0])

    def agent_runs(self, node: str, action: str) -> list[tuple[float, str]]:
        """(time, resource) of every run of `action` by `node`'s lrmd agents."""
        return [(t, rsc) for t, n, rsc, act, _ in self.agents.runs
                if n == node and act == action]

    def requests(self, node: str, action: str, interval_ms: int = 0) -> list[tuple[float, str]]:
        """(time, resource) of every request of `node`'s controller to its lrmd."""
        return [(t, rsc) for t, n, rsc, act, interval in self.settings.record.lrmd
                if n == node and act == action and interval == interval_ms]

    def starts(self, node: str) -> list[str]:
        return [rsc for _, rsc in self.agent_runs(node, "start")]

    @property
    def fenced(self) -> list[str]:
        """Targets of successful fencing, once per operation (as its origin recorded)."""
        return [e.event.target for e in self.sim.trace
                if e.topic == fencing.FENCE_TOPIC and isinstance(e.event, fencing.FenceResult)
                and e.event.ok and e.event.origin == e.node]

    @property
    def fence_requests(self) -> list[tuple[float, str, str, str]]:
        """(time, DC, target, action) of every fencing the controllers asked for."""
        return list(self.settings.record.fencing)

    @property
    def stopped(self) -> list[str]:
        return list(self.settings.record.stopped)

    def trace_lines(self) -> list[str]:
        return [entry.line() for entry in self.sim.trace]
