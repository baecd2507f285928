"""Operation results, Pacemaker's parameter digest and the ``lrm_rsc_op`` shape crmd writes.

Pure data and functions (no I/O). `OpCompleted` is both the event the lrmd publishes and the
history record it keeps per resource. `op_digest` reproduces Pacemaker's ``op-digest``: MD5 hex
of ``' <parameters' + ' name="value"' per parameter sorted by name + '/>\\n'`` after dropping
meta keys (``CRM_meta_*``, ``id``, ``crm_feature_set``, ...), re-adding ``CRM_meta_timeout`` for
recurring operations, with values escaped as Pacemaker's XML escaper does.
`lrm_rsc_op_attributes` follows the entry-id rule of the status section (last_0,
last_failure_0, recurring op key, migrate op key).
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from lrmd.messages import DEFAULT_TIMEOUT_MS, AgentSpec, OpCompleted
from messaging.digest import parameters_digest
from messaging.types import OpStatus

_DIGEST_DROPPED = frozenset(
    {"id", "crm_feature_set", "op-digest", "on_node", "on_node_uuid", "pcmk_external_ip"}
)


def digest_parameters(params: dict[str, str], interval_ms: int, timeout_ms: int) -> dict[str, str]:
    """The parameters the op-digest covers (meta keys dropped, timeout kept when recurring)."""
    kept = {
        k: v
        for k, v in params.items()
        if not k.startswith("CRM_meta_") and k not in _DIGEST_DROPPED
    }
    if interval_ms > 0:
        kept["CRM_meta_timeout"] = str(timeout_ms)
    return kept


def op_digest(
    params: dict[str, str], interval_ms: int = 0, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> str:
    """Pacemaker's ``op-digest`` of an operation's parameters (32 hex digits)."""
    return parameters_digest(digest_parameters(params, interval_ms, timeout_ms))


_NEEDS_METADATA = frozenset(
    {
        "start",
        "monitor",
        "promote",
        "demote",
        "reload",
        "reload-agent",
        "migrate_to",
        "migrate_from",
        "notify",
    }
)


def _framed(names: list[str]) -> str:
    """Pacemaker's parameter list format: space-framed, or empty."""
    return f" {' '.join(names)} " if names else ""


def reload_and_secure_attributes(result: OpCompleted, metadata_xml: str) -> dict[str, str]:
    """``op-force-restart``/``op-restart-digest`` and ``op-secure-params``/``op-secure-digest``
    for `result`, from the agent's meta-data (empty when they do not apply or the meta-data
    cannot be read).

    The restart list holds the parameters a reload cannot apply: those not ``reloadable="1"``
    for agents advertising ``reload-agent``, those ``unique="1"`` for legacy ``reload``
    agents; only non-recurring operations carry it. The secure list holds ``private="1"``
    parameters and its digest covers every other parameter.
    """
    if result.action not in _NEEDS_METADATA:
        return {}
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(metadata_xml.encode(), parser)
    except (etree.XMLSyntaxError, ValueError):
        return {}
    declared = [p for p in root.iter("parameter") if p.get("name")]
    actions = {a.get("name") for a in root.iter("action")}
    params = digest_parameters(result.params, 0, result.timeout_ms)
    attributes: dict[str, str] = {}
    if result.interval_ms == 0 and actions & {"reload-agent", "reload"}:
        if "reload-agent" in actions:
            names = [str(p.get("name")) for p in declared if p.get("reloadable") != "1"]
        else:
            names = [str(p.get("name")) for p in declared if p.get("unique") == "1"]
        attributes["op-force-restart"] = _framed(names)
        attributes["op-restart-digest"] = op_digest({k: v for k, v in params.items() if k in names})
    private = [str(p.get("name")) for p in declared if p.get("private") == "1"]
    if private:
        public = {k: v for k, v in result.params.items() if k not in private}
        attributes["op-secure-params"] = _framed(private)
        attributes["op-secure-digest"] = op_digest(public, result.interval_ms, result.timeout_ms)
    return attributes


def history_entry_id(result: OpCompleted) -> str:
    """The ``lrm_rsc_op`` id this result is written under (status-section id rule)."""
    if result.action == "notify":
        notify_type = result.params.get("CRM_meta_notify_type", "pre")
        operation = result.params.get("CRM_meta_notify_operation", "start")
        return f"{result.resource}_{notify_type}_notify_{operation}_0"
    if result.action in ("migrate_to", "migrate_from"):
        return result.op_key
    if result.failed:
        return f"{result.resource}_last_failure_0"
    if result.interval_ms > 0:
        return result.op_key
    return f"{result.resource}_last_0"


def lrm_rsc_op_attributes(
    result: OpCompleted,
    *,
    node: str,
    transition_key: str = "",
    crm_feature_set: str = "3.16.2",
    origin: str = "do_update_resource",
    metadata: str = "",
) -> dict[str, str]:
    """Attributes of the ``lrm_rsc_op`` element for `result`, in Pacemaker's order.

    Without a `transition_key` the fake one Pacemaker uses for unknown ops is written; with
    the agent's `metadata` the reload and secure-parameter digests are added.
    """
    target = result.target_rc if result.target_rc is not None else 0
    key = transition_key or (f"-1:{result.call_id}:{target}:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    action = result.action
    if action in ("reload", "reload-agent"):
        action = "start" if result.status == OpStatus.DONE else "monitor"
    status = result.status
    if status == OpStatus.ERROR and result.rc in (7, 8, 190, 191):
        status = OpStatus.DONE
    attributes = {
        "id": history_entry_id(result),
        "operation_key": f"{result.resource}_{action}_{result.interval_ms}",
        "operation": action,
        "crm-debug-origin": origin,
        "crm_feature_set": crm_feature_set,
        "transition-key": key,
        "transition-magic": f"{int(status)}:{result.rc};{key}",
        "exit-reason": result.exit_reason,
        "on_node": node,
        "call-id": str(result.call_id),
        "rc-code": str(result.rc),
        "op-status": str(int(status)),
        "interval": str(result.interval_ms),
        "last-rc-change": str(int(result.last_rc_change)),
        "exec-time": str(result.exec_time_ms),
        "queue-time": str(result.queue_time_ms),
        "op-digest": result.op_digest,
    }
    if metadata:
        attributes.update(reload_and_secure_attributes(result, metadata))
    if result.action in ("migrate_to", "migrate_from"):
        attributes["migrate_source"] = result.params.get("CRM_meta_migrate_source", "")
        attributes["migrate_target"] = result.params.get("CRM_meta_migrate_target", "")
    return attributes


def lrm_rsc_op_element(
    result: OpCompleted,
    *,
    node: str,
    transition_key: str = "",
    crm_feature_set: str = "3.16.2",
    metadata: str = "",
) -> etree._Element:
    """The ``lrm_rsc_op`` element for `result` (see `lrm_rsc_op_attributes`)."""
    element = etree.Element("lrm_rsc_op")
    for name, value in lrm_rsc_op_attributes(
        result,
        node=node,
        transition_key=transition_key,
        crm_feature_set=crm_feature_set,
        metadata=metadata,
    ).items():
        element.set(name, value)
    return element


def lrm_resource_element(
    resource: str,
    agent: AgentSpec,
    results: Iterable[OpCompleted],
    *,
    node: str,
    metadata: str = "",
) -> etree._Element:
    """A whole ``lrm_resource`` with one ``lrm_rsc_op`` per history entry id.

    A failed one-shot result is written as ``<rsc>_last_failure_0`` and, unless a separate
    later result already holds it, also as ``<rsc>_last_0`` (Pacemaker writes both).
    """
    element = etree.Element("lrm_resource", id=resource, type=agent.type)
    element.set("class", agent.standard)
    if agent.provider:
        element.set("provider", agent.provider)
    entries: dict[str, dict[str, str]] = {}
    for result in results:
        attributes = lrm_rsc_op_attributes(result, node=node, metadata=metadata)
        entries[attributes["id"]] = attributes
        if attributes["id"].endswith("_last_failure_0") and result.interval_ms == 0:
            entries.setdefault(f"{resource}_last_0", {**attributes, "id": f"{resource}_last_0"})
    for attributes in entries.values():
        op = etree.SubElement(element, "lrm_rsc_op")
        for name, value in attributes.items():
            op.set(name, value)
    return element
