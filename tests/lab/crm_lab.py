"""Tooling of the crmd end-to-end lab tests: a namespace lab with the whole stack, configured
live with our cibadmin, judged by Debian's crm_simulate and by every node's lrmd.

- `CrmLab`: `hacluster lab` commands (up, kill, start, partition, heal, exec), our cibadmin
  and crm_attribute run from the host against one node's daemons (HACLUSTER_STATE_DIR =
  that node's state directory), the live CIB saved to a file.
- `plan(path)`: Debian's crm_simulate on a saved CIB: the actions it would still take and
  where every resource runs once they are done.
- `CrmLab.wait_settled`: the condition every scenario waits for (never a sleep): one idle
  DC agreed by the partition's controllers (their control sockets, `lab.cli.idle_dc`),
  crm_simulate plans nothing more for the DC's live CIB, and what the lrmds run (sampled,
  `lab.audit_live`) is exactly where crm_simulate places every configured resource.
- `CrmLab.check_cib_matches_lrmds`: the CIB's view (Debian's crm_mon on the live CIB)
  against the lrmds' truth, at the end of a scenario.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from lab.audit import DoubleRunAudit, placement, placement_differences
from lab.audit_live import LabNodes, LrmdSampler
from tests.oracle import pacemaker_tool

BIN = Path(sys.executable).parent
SETTLE_TIMEOUT = 120.0  # generous on a loaded 2-core host; the waits are conditions


@dataclass(frozen=True)
class Plan:
    """What Pacemaker's scheduler says about one CIB."""

    actions: tuple[str, ...]  # "op resource node" of every action it would still take
    placement: dict[str, set[str]]  # where each resource runs once those are done


def plan(cib_path: Path) -> Plan:
    """Debian's crm_simulate -S on `cib_path` (XML output)."""
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        raise RuntimeError("Debian's crm_simulate is not installed")
    done = subprocess.run([tool, "-x", str(cib_path), "-S", "--output-as=xml"],
                          capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"crm_simulate failed on {cib_path}: {done.stderr.decode()}")
    root = etree.fromstring(done.stdout)
    actions = tuple(
        f"{a.get('op') or a.get('task')} {a.get('resource', '')} {a.get('node', '')}".strip()
        for a in root.iterfind("transition/*"))
    where: dict[str, set[str]] = {}
    for resource in root.iterfind("revised_cluster_status/resources//resource"):
        nodes = {str(n.get("name")) for n in resource.iterfind("node")}
        if resource.get("active") == "true" and nodes:
            where[str(resource.get("id"))] = nodes
    return Plan(actions, where)


def cib_placement(cib_path: Path) -> dict[str, set[str]]:
    """Where the CIB says each resource runs: Debian's crm_mon on the saved CIB."""
    tool = pacemaker_tool("crm_mon")
    if tool is None:
        raise RuntimeError("Debian's crm_mon is not installed")
    env = dict(os.environ, CIB_file=str(cib_path))
    done = subprocess.run([tool, "-1", "--output-as=xml"], capture_output=True, env=env,
                          timeout=60, check=False)
    root = etree.fromstring(done.stdout)
    where: dict[str, set[str]] = {}
    for resource in root.iterfind("resources//resource"):
        nodes = {str(n.get("name")) for n in resource.iterfind("node")}
        if nodes:
            where[str(resource.get("id"))] = nodes
    return where


class CrmLab:
    """One namespace lab named `name`, driven with our console scripts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}",
                        HACLUSTER_LAB=name)
        self.env.pop("CIB_file", None)
        self.nodes = LabNodes(name)
        self.audit = DoubleRunAudit()
        self.sampler: LrmdSampler | None = None
        self.files = Path(tempfile.mkdtemp(prefix=f"{name}-cib-"))
        self.resources: set[str] | None = None  # what placement checks compare (None: all)

    # -- the lab -----------------------------------------------------------------------
    def lab(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "hacluster"), "lab", *args], capture_output=True,
                              text=True, env=self.env, timeout=timeout, check=False)

    def ok(self, *args: str, timeout: float = 120) -> str:
        done = self.lab(*args, timeout=timeout)
        assert done.returncode == 0, f"lab {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def status(self) -> dict[str, Any]:
        nodes: dict[str, Any] = json.loads(self.ok("status", "--json"))["nodes"]
        return nodes

    def start_sampling(self, unique: frozenset[str] | None = None) -> LrmdSampler:
        self.audit = DoubleRunAudit(unique)
        self.sampler = LrmdSampler(self.nodes, self.audit)
        return self.sampler.__enter__()

    def stop_sampling(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()

    # -- our tools against one node's daemons --------------------------------------------
    def tool(self, node: str, tool: str, *args: str,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, HACLUSTER_STATE_DIR=self.nodes.state_dirs()[node])
        return subprocess.run([str(BIN / tool), *args], input=stdin, capture_output=True,
                              text=True, env=env, timeout=120, check=False)

    def cibadmin(self, node: str, *args: str) -> str:
        """Our cibadmin on `node`, retried while the outcome is unknown (102, 124: the
        view changed under the write; 108 after such a retry means it was applied)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        retried = False
        while True:
            done = self.tool(node, "cibadmin", *args)
            if done.returncode == 0 or (retried and done.returncode == 108):
                return done.stdout
            assert done.returncode in (102, 124) and time.monotonic() < deadline, \
                f"cibadmin {' '.join(args)} on {node}: {done.returncode} {done.stderr}"
            retried = True

    def create(self, node: str, section: str, xml: str) -> None:
        self.cibadmin(node, "-C", "-o", section, "-X", xml)

    def property(self, node: str, name: str, value: str) -> None:
        done = self.tool(node, "crm_attribute", "-t", "crm_config", "-n", name, "-v", value)
        assert done.returncode == 0, done.stderr

    def save_cib(self, node: str) -> Path:
        """`node`'s live CIB (cibadmin -Q) saved to a file for Pacemaker's tools."""
        path = self.files / f"live-{node}-{time.monotonic_ns()}.xml"
        path.write_text(self.cibadmin(node, "-Q"))
        return path

    def dc(self, node: str) -> str | None:
        """The DC named in `node`'s CIB (dc-uuid mapped to its uname)."""
        root = etree.fromstring(self.cibadmin(node, "-Q").encode())
        uuid = root.get("dc-uuid")
        found = root.find(f"configuration/nodes/node[@id='{uuid}']") if uuid else None
        return None if found is None else found.get("uname")

    def dummy_state_file(self, node: str, resource: str) -> Path:
        """Debian's Dummy state file of `resource` inside `node` (its private /run), seen
        from the host through the node's PID 1."""
        pid = self.status()[node]["pid"]
        return Path(f"/proc/{pid}/root/run/resource-agents/Dummy-{resource}.state")

    # -- conditions --------------------------------------------------------------------
    def idle_dc(self, members: list[str]) -> str | None:
        """The DC when exactly `members` form one view, every controller among them names
        it, it is idle (S_IDLE, no transition) and the others have joined (lab.cli)."""
        from lab.cli import idle_dc

        return idle_dc(self.nodes.state(), sorted(members))

    def settled(self, members: list[str]) -> tuple[bool, str, Plan | None]:
        """(settled?, why not, the plan) of the partition made of `members` right now."""
        dc = self.idle_dc(members)
        if dc is None:
            return False, f"no idle DC agreed by {sorted(members)}", None
        the_plan = plan(self.save_cib(dc))
        if the_plan.actions:
            return False, f"crm_simulate still plans {list(the_plan.actions)}", the_plan
        assert self.sampler is not None, "start_sampling first"
        truth = placement(self.sampler.wait_rounds(1))
        problems = placement_differences(the_plan.placement, truth, self.resources)
        return not problems, "; ".join(problems), the_plan

    def wait_settled(self, members: list[str] | None = None,
                     timeout: float = SETTLE_TIMEOUT) -> Plan:
        """Until `settled(members)` (default: every running node); fails with the last
        reason after `timeout`."""
        deadline = time.monotonic() + timeout
        why = ""
        while time.monotonic() < deadline:
            group = members if members is not None else sorted(self.nodes.running())
            try:
                ok, why, the_plan = self.settled(group)
            except AssertionError as error:  # a cibadmin that could not answer yet
                ok, why, the_plan = False, str(error), None
            if ok and the_plan is not None:
                return the_plan
            time.sleep(0.2)  # poll interval of a condition, not a readiness guess
        raise AssertionError(f"not settled after {timeout}s: {why}")

    def check_no_double_run(self) -> None:
        runs = self.audit.double_runs()
        assert not runs, "\n".join(str(r) for r in runs)
        assert self.audit.samples > 0, "the auditor never sampled an lrmd"

    def check_cib_matches_lrmds(self, node: str) -> None:
        """The CIB's placement (Pacemaker's crm_mon on it) is what the lrmds run."""
        assert self.sampler is not None
        truth = placement(self.sampler.wait_rounds(1))
        problems = placement_differences(cib_placement(self.save_cib(node)), truth,
                                         self.resources)
        assert not problems, problems
