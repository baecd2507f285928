"""A node's side of the transition: run what the DC asks, record results, report back.

`NodeExecutor.execute` turns an `ExecuteResourceAction` into a request to this node's lrmd
(an `LrmdRequest` of `ExecRequest` or `CancelRequest`) after writing the pending record, and
carries out controller-level actions (clear_failcount, lrm_delete, do_shutdown) itself.
`NodeExecutor.on_result` records an lrmd result (`crmd.recorder`) and sends the DC an
`ActionResult` under the transition key of the request that started the operation (a
recurring monitor keeps its key, so a later change of its result reaches the DC as a result
of an old transition, which makes the DC replan, as in Pacemaker).

Invariants: pure; every executed graph action is answered exactly once, by a result of the
lrmd or at once for cancels and cluster actions.
"""

from __future__ import annotations

from crmd import graph as reading
from crmd.messages import (
    ActionResult,
    ClearFailures,
    CrmdEffect,
    DeleteCib,
    ExecuteClusterAction,
    ExecuteResourceAction,
    LocalOpResult,
    LrmdRequest,
    ModifyCib,
    StopController,
)
from crmd.recorder import Recorder
from lrmd.api import DEFAULT_TIMEOUT_MS, AgentSpec, CancelRequest, ExecRequest
from messaging.effects import Log, Node, Send
from messaging.types import OpStatus
from pengine.api import GraphAction

_DONE_RCS = frozenset({7, 8, 190, 191})  # "error" results the controller records as done


class NodeExecutor:
    """Runs the DC's actions on node `name`; `recorder` holds this node's history."""

    def __init__(self, name: str, node_id: str, recorder: Recorder, *,
                 report_directly: bool = True) -> None:
        self.report_directly = report_directly
        self.name = name
        self.node_id = node_id
        self.recorder = recorder
        self.keys: dict[tuple[str, str, int], str] = {}

    def execute(self, message: ExecuteResourceAction | ExecuteClusterAction, dc: str,
                wall: float) -> list[CrmdEffect]:
        action = message.action
        if isinstance(message, ExecuteClusterAction):
            return self._cluster_action(action, message.transition_key, dc)
        rsc = reading.resource_name(action)
        if action.operation == "cancel":
            return self._cancel(action, rsc, message.transition_key, dc)
        meta, params = self._agent_table(action, rsc)
        request = ExecRequest(
            resource=rsc, agent=AgentSpec.parse(reading.agent(action) or "ocf:heartbeat:Dummy"),
            action=action.operation, params=params, meta=meta,
            interval_ms=reading.interval_ms(action),
            timeout_ms=int(meta.get("timeout") or DEFAULT_TIMEOUT_MS),
            target_rc=reading.target_rc(action), reply=False)
        self.keys[(rsc, action.operation, request.interval_ms)] = message.transition_key
        effects: list[CrmdEffect] = []
        if meta.get("record_pending", "true") != "false" and action.operation not in (
                "notify", "meta-data", "delete"):
            effects.append(ModifyCib("status", self.recorder.pending(
                rsc, request.agent, action.operation, request.interval_ms,
                message.transition_key, wall, params)))
        return [*effects, LrmdRequest(request)]

    def _agent_table(self, action: GraphAction, rsc: str) -> tuple[dict[str, str],
                                                                    dict[str, str]]:
        """The meta and parameters the agent gets: the action's <attributes> but the result
        it is expected to give (Pacemaker's construct_op), crm_feature_set included; a
        stop takes the instance parameters of the resource's last start, reload or probe
        here, so it stops what was started (the graph may carry changed ones)."""
        meta: dict[str, str] = {}
        params: dict[str, str] = {}
        for name, value in action.attributes:
            if name == "CRM_meta_op_target_rc":
                continue
            if name.startswith("CRM_meta_"):
                meta[name[len("CRM_meta_"):]] = value
            else:
                params[name] = value
        history = self.recorder.resources.get(rsc)
        if action.operation == "stop" and history is not None and history.stop_params:
            params = {k: v for k, v in history.stop_params.items()
                      if not k.startswith("CRM_meta_")}
        return meta, params

    def _cancel(self, action: GraphAction, rsc: str, key: str, dc: str) -> list[CrmdEffect]:
        operation = reading.meta(action).get("CRM_meta_operation", "monitor")
        interval = reading.interval_ms(action)
        history = self.recorder.resources.get(rsc)
        op_key = f"{rsc}_{operation}_{interval}"
        if history is not None:
            history.recurring.pop(op_key, None)
        self.keys.pop((rsc, operation, interval), None)
        return [LrmdRequest(CancelRequest(rsc, operation, interval)),
                DeleteCib(f"/cib/status/node_state[@id='{self.node_id}']/lrm/lrm_resources"
                          f"/lrm_resource[@id='{rsc}']/lrm_rsc_op[@id='{op_key}']"),
                Send(Node(dc), ActionResult(key, self.name, 0, int(OpStatus.DONE), 0.0))]

    def _cluster_action(self, action: GraphAction, key: str, dc: str) -> list[CrmdEffect]:
        effects: list[CrmdEffect] = []
        rsc = reading.resource_id(action) or ""
        if action.operation == "clear_failcount":
            effects.append(ClearFailures(self.name, reading.resource_name(action) or rsc))
        elif action.operation == "lrm_delete":
            self.recorder.forget(rsc)
            effects.append(DeleteCib(f"/cib/status/node_state[@id='{self.node_id}']/lrm"
                                     f"/lrm_resources/lrm_resource[@id='{rsc}']"))
        ack = Send(Node(dc), ActionResult(key, self.name, 0, int(OpStatus.DONE), 0.0))
        if action.operation == "do_shutdown":  # acknowledge first: the node stops right after
            return [ack, Log("shutdown_ordered", fields=(("node", self.name),)),
                    StopController("the DC confirmed this node's shutdown")]
        return [*effects, ack]

    def on_result(self, event: LocalOpResult, dc: str | None) -> list[CrmdEffect]:
        result = event.result
        op = (result.resource, result.action, result.interval_ms)
        key = self.keys.get(op, "")
        if result.interval_ms == 0:
            self.keys.pop(op, None)
        effects: list[CrmdEffect] = []
        xml = self.recorder.record(result, key)
        if xml is not None:
            effects.append(ModifyCib("status", xml))
        # a result the CIB does not record (notify) reaches the DC only directly
        # (process_lrm_event's direct ack), however the others are reported
        if dc is None or not key or result.status == OpStatus.CANCELLED \
                or (not self.report_directly and xml is not None):
            return effects
        status = result.status
        if status == OpStatus.ERROR and result.rc in _DONE_RCS:
            status = int(OpStatus.DONE)  # the DC judges these rcs itself
        return [*effects, Send(Node(dc), ActionResult(
            key, self.name, result.rc, status, event.now, result.interval_ms,
            result.exit_reason, result.last_rc_change, result.resource, result.action))]
