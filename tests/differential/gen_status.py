"""Random status section: node states and resource histories reaching every state.

Invariants: call ids grow per node and last-rc-change grows with them (all before the CIB's
execution-date), so history order is unambiguous; every entry id is unique within its
lrm_resource; parameterless agents get the digest of empty parameters, so only the states
drawn here (never a stale definition) drive the transition. `features` names what was drawn.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tests.differential.gen_config import Top

EMPTY_DIGEST = "f2317cad3d54cec5d7d7aa7d0bf35cf8"
UUID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
EXECUTION_DATE = 1_700_000_000

NODE_STATES = ("online", "offline", "unclean", "pending", "unseen", "shutdown")
HISTORY_STATES = ("running", "stopped", "failed_start", "failed_monitor", "failed_stop",
                  "pending_start", "probe_running", "probe_not_installed")


@dataclass
class NodeHistory:
    """What one node_state will hold."""

    state: str = "online"
    calls: int = 0
    resources: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    transient: dict[str, str] = field(default_factory=dict)


class StatusGen:
    """Draws node states and histories for the resources of a ConfigGen."""

    def __init__(self, rng: random.Random, nodes: list[str], stonith: bool) -> None:
        self.rng = rng
        self.nodes = nodes
        self.features: set[str] = set()
        self.hist: dict[str, NodeHistory] = {n: NodeHistory() for n in nodes}
        for name in nodes:
            if rng.random() < 0.15:
                state = rng.choice(NODE_STATES[1:])
                self.hist[name].state = state
                self.features.add(f"node_{state}")
        if all(h.state != "online" for h in self.hist.values()):
            self.hist[nodes[0]].state = "online"
        self.stonith = stonith

    def online(self) -> list[str]:
        return [n for n, h in self.hist.items() if h.state in ("online", "shutdown")]

    # -- entries ---------------------------------------------------------------------------
    def op(self, node: str, hid: str, task: str, *, rc: int = 0, status: int = 0,
           interval: int = 0, target: int | None = None, extra: str = "") -> str:
        h = self.hist[node]
        h.calls += 1
        call = h.calls
        if target is None:
            target = 7 if task == "monitor" and interval == 0 else 0
        if status == -1:
            call_id, rc = -1, 193
        else:
            call_id = call
        lrc = EXECUTION_DATE - 5000 + call * 10
        return (f'<lrm_rsc_op id="{hid}_{task}_{interval}_{call}" operation_key="{hid}_{task}_'
                f'{interval}" operation="{task}" crm-debug-origin="gen" crm_feature_set="3.16.1"'
                f' transition-key="{call}:1:{target}:{UUID}" transition-magic="{status}:{rc};'
                f'{call}:1:{target}:{UUID}" exit-reason="" on_node="{node}" call-id="{call_id}"'
                f' rc-code="{rc}" op-status="{status}" interval="{interval}" last-rc-change='
                f'"{lrc}" exec-time="1" queue-time="0" op-digest="{EMPTY_DIGEST}"{extra}/>')

    def fail_count(self, node: str, hid: str, task: str, interval: int) -> None:
        if self.rng.random() < 0.7:
            key = f"{hid}#{task}_{interval}"
            value = self.rng.choice(("1", "2", "INFINITY"))
            self.hist[node].transient[f"fail-count-{key}"] = value
            self.hist[node].transient[f"last-failure-{key}"] = str(EXECUTION_DATE - 100)
            self.features.add("fail_count")

    def record(self, node: str, hid: str, agent: str, entries: list[str]) -> None:
        old = self.hist[node].resources.get(hid)
        if old is not None:
            entries = old[1] + entries
        self.hist[node].resources[hid] = (agent, entries)

    def entries(self, node: str, hid: str, state: str, promotable: bool) -> list[str]:
        """The history of one resource id on one node that ends in `state`."""
        op = self.op
        probe = op(node, hid, "monitor", rc=7)
        mon = 12000 if promotable else 10000
        started = [probe, op(node, hid, "start"), op(node, hid, "monitor", interval=mon,
                                                     target=0)]
        self.features.add(f"history_{state}")
        if state == "stopped":
            return [probe]
        if state == "running":
            return started
        if state == "probe_running":
            return [op(node, hid, "monitor", rc=0)]
        if state == "probe_not_installed":
            return [op(node, hid, "monitor", rc=5, status=7)]
        if state == "pending_start":
            return [probe, op(node, hid, "start", status=-1)]
        if state == "failed_start":
            self.fail_count(node, hid, "start", 0)
            return [probe, op(node, hid, "start", rc=1, status=4)]
        if state == "failed_monitor":
            self.fail_count(node, hid, "monitor", mon)
            rc = self.rng.choice((1, 7))
            status = 4 if rc == 1 else 0
            return [*started[:2], op(node, hid, "monitor", interval=mon, rc=rc, target=0,
                                     status=status)]
        if state == "failed_stop":
            self.fail_count(node, hid, "stop", 0)
            return [*started, op(node, hid, "stop", rc=1, status=4)]
        return self._promoted(node, hid, state, started)

    def _promoted(self, node: str, hid: str, state: str, started: list[str]) -> list[str]:
        op = self.op
        promoted = [*started[:2], op(node, hid, "promote"),
                    op(node, hid, "monitor", interval=11000, rc=8, target=8)]
        if state == "promoted":
            return promoted
        if state == "failed_promoted":
            self.fail_count(node, hid, "monitor", 11000)
            rc = self.rng.choice((1, 9, 7))
            status = 4 if rc != 7 else 0
            return [*promoted[:3], op(node, hid, "monitor", interval=11000, rc=rc, target=8,
                                      status=status)]
        if state == "probe_promoted":
            return [op(node, hid, "monitor", rc=8)]
        raise ValueError(state)

    def migration(self, hid: str, agent: str, source: str, target: str, done: bool) -> None:
        op = self.op
        names = f' migrate_source="{source}" migrate_target="{target}"'
        src = [op(source, hid, "monitor", rc=7), op(source, hid, "start"),
               op(source, hid, "migrate_to", extra=names)]
        self.record(source, hid, agent, src)
        tgt = []
        if self.rng.random() < 0.6:
            tgt.append(op(target, hid, "monitor", rc=7))
        if done:
            tgt.append(op(target, hid, "migrate_from", extra=names))
        if tgt:
            self.record(target, hid, agent, tgt)
        self.features.add("history_migrate_" + ("done" if done else "partial"))

    # -- per resource ----------------------------------------------------------------------
    def pick_state(self, promotable: bool) -> str:
        states = list(HISTORY_STATES)
        weights = [10, 4, 1, 2, 1, 0.5, 0.5, 0.5]
        if promotable:
            states += ["promoted", "failed_promoted", "probe_promoted"]
            weights += [4, 1, 0.5]
        return self.rng.choices(states, weights=weights)[0]

    def place(self, hid: str, agent: str, node: str, promotable: bool, state: str = "") -> None:
        state = state or self.pick_state(promotable)
        self.record(node, hid, agent, self.entries(node, hid, state, promotable))

    def primitive_like(self, top: Top, agent: str) -> None:
        """A primitive or plain group: mostly on one node, sometimes nowhere or on two."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            return
        nodes = rng.sample(self.nodes, k=min(len(self.nodes), 2 if roll > 0.95 else 1))
        if top.migratable and len(self.nodes) > 1 and rng.random() < 0.3:
            source, target = rng.sample(self.nodes, 2)
            self.migration(top.members[0], agent, source, target, rng.random() < 0.4)
            return
        for node in nodes:
            for index, member in enumerate(top.members):
                if index and rng.random() < 0.2:
                    break
                self.place(member, agent, node, False)
        if rng.random() < 0.3:
            for node in rng.sample(self.nodes, k=rng.randint(1, len(self.nodes))):
                for member in top.members:
                    if member not in self.hist[node].resources:
                        self.place(member, agent, node, False, "stopped")

    def clone(self, top: Top, agent: str) -> None:
        rng = self.rng
        if rng.random() < 0.2:
            return
        if top.kind == "unique":
            count = top.clone_max + (1 if rng.random() < 0.1 else 0)
            for index in range(count):
                if rng.random() < 0.7:
                    node = rng.choice(self.nodes)
                    for member in top.members:
                        self.place(f"{member}:{index}", agent, node, False)
            return
        for index, node in enumerate(rng.sample(self.nodes, k=rng.randint(1, len(self.nodes)))):
            state = self.pick_state(top.promotable)
            for member in top.members:
                hid = member if rng.random() < 0.5 else f"{member}:{index}"
                self.place(hid, agent, node, top.promotable, state)
                if state not in ("running", "promoted", "probe_running"):
                    state = "stopped" if rng.random() < 0.5 else state
        if top.migratable and len(self.nodes) > 1 and rng.random() < 0.2:
            # A real cluster migrates an anonymous instance only onto a node that has no
            # history of that clone yet (one lrm_resource per node for it), so the target is
            # picked among the nodes without one, like the source.
            base = top.members[0]
            free = [n for n in self.nodes
                    if all(r.split(":")[0] != base for r in self.hist[n].resources)]
            if len(free) > 1:
                self.migration(base, agent, free[0], rng.choice(free[1:]), False)

    def promotion_scores(self, top: Top) -> None:
        for node in self.nodes:
            if self.rng.random() < 0.6:
                member = top.members[0]
                self.hist[node].transient[f"master-{member}"] = self.rng.choice(
                    ("5", "10", "100", "0", "-1", "INFINITY"))
                self.features.add("promotion_score")

    def orphan(self) -> None:
        node = self.rng.choice(self.nodes)
        self.place(f"orphan{self.rng.randint(1, 9)}", "Dummy", node, False,
                   self.rng.choice(("running", "running", "stopped", "failed_monitor")))
        self.features.add("orphan")
