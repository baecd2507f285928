"""Tiny CIB builder for hand-written scheduler tests (inputs only; expectations come
from Pacemaker's crm_simulate run on the same CIB, recorded in the tests)."""

from __future__ import annotations

_OP = (
    '<lrm_rsc_op id="{rsc}_{task}_{interval}_{call}" operation_key="{rsc}_{task}_{interval}" '
    'operation="{task}" transition-key="{call}:1:{target}:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" '
    'transition-magic="{status}:{rc};{call}:1:{target}:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" '
    'call-id="{call}" rc-code="{rc}" op-status="{status}" interval="{interval}" '
    'last-rc-change="{lrc}" exec-time="1" queue-time="0" {digest}/>'
)


def op(rsc: str, task: str, *, rc: int = 0, status: int = 0, interval: int = 0,
       call: int = 1, target: int | None = None, lrc: int = 1000, digest: str = "") -> str:
    """One lrm_rsc_op entry."""
    if target is None:
        target = 7 if task == "monitor" and interval == 0 else 0
    extra = f'op-digest="{digest}"' if digest else ""
    return _OP.format(rsc=rsc, task=task, interval=interval, call=call, target=target, rc=rc,
                      status=status, lrc=lrc, digest=extra)


def running(rsc: str, call: int = 10, digest: str = "f2317cad3d54cec5d7d7aa7d0bf35cf8") -> str:
    """History of a resource started successfully (digest of empty parameters)."""
    return op(rsc, "start", call=call, digest=digest)


def stopped(rsc: str, call: int = 5) -> str:
    """History of a probe that found the resource not running."""
    return op(rsc, "monitor", rc=7, call=call)


def node_state(name: str, history: dict[str, list[str]] | None = None, *,
               attrs: dict[str, str] | None = None, in_ccm: str = "true",
               crmd: str = "online", join: str = "member", expected: str = "member",
               agent: str = 'class="ocf" provider="pacemaker" type="Dummy"') -> str:
    fence = 'class="stonith" type="fence_dummy"'
    lrm = "".join(
        f'<lrm_resource id="{rsc}" {fence if rsc.startswith("fenc") else agent}>'
        f'{"".join(ops)}</lrm_resource>'
        for rsc, ops in (history or {}).items())
    transient = ""
    if attrs:
        pairs = "".join(f'<nvpair id="{name}-{k}" name="{k}" value="{v}"/>'
                        for k, v in attrs.items())
        transient = (f'<transient_attributes id="{name}"><instance_attributes '
                     f'id="status-{name}">{pairs}</instance_attributes></transient_attributes>')
    return (f'<node_state id="{name}" uname="{name}" in_ccm="{in_ccm}" crmd="{crmd}" '
            f'join="{join}" expected="{expected}">{transient}<lrm id="{name}"><lrm_resources>'
            f'{lrm}</lrm_resources></lrm></node_state>')


def primitive(rid: str, meta: dict[str, str] | None = None, ops: str = "",
              params: dict[str, str] | None = None, cls: str = "ocf") -> str:
    body = ""
    if params:
        body += f'<instance_attributes id="{rid}-ia">' + "".join(
            f'<nvpair id="{rid}-ia-{k}" name="{k}" value="{v}"/>' for k, v in params.items()
        ) + "</instance_attributes>"
    if meta:
        body += f'<meta_attributes id="{rid}-meta">' + "".join(
            f'<nvpair id="{rid}-meta-{k}" name="{k}" value="{v}"/>' for k, v in meta.items()
        ) + "</meta_attributes>"
    if ops:
        body += f"<operations>{ops}</operations>"
    agent = 'type="fence_dummy"' if cls == "stonith" else 'provider="pacemaker" type="Dummy"'
    return f'<primitive id="{rid}" class="{cls}" {agent}>{body}</primitive>'


def cib(nodes: list[str], resources: str, status: str, *, constraints: str = "",
        options: dict[str, str] | None = None, quorum: bool = True,
        node_attrs: dict[str, dict[str, str]] | None = None, execution_date: int = 2000,
        feature_set: str = "3.16.2", rsc_defaults: str = "") -> str:
    """A whole CIB. Stonith is disabled unless options say otherwise."""
    opts = {"stonith-enabled": "false", **(options or {})}
    props = "".join(f'<nvpair id="opt-{k}" name="{k}" value="{v}"/>' for k, v in opts.items())
    node_xml = ""
    for name in nodes:
        attrs = (node_attrs or {}).get(name, {})
        inner = ""
        if attrs:
            inner = f'<instance_attributes id="{name}-ia">' + "".join(
                f'<nvpair id="{name}-ia-{k}" name="{k}" value="{v}"/>' for k, v in attrs.items()
            ) + "</instance_attributes>"
        node_xml += f'<node id="{name}" uname="{name}">{inner}</node>'
    return (
        f'<cib crm_feature_set="{feature_set}" validate-with="pacemaker-3.7" epoch="1" '
        f'num_updates="0" admin_epoch="0" have-quorum="{str(quorum).lower()}" '
        f'dc-uuid="{nodes[0]}" execution-date="{execution_date}"><configuration><crm_config>'
        f'<cluster_property_set id="cib-bootstrap-options">{props}</cluster_property_set>'
        f'</crm_config><nodes>{node_xml}</nodes><resources>{resources}</resources>'
        f'<constraints>{constraints}</constraints>{rsc_defaults}</configuration>'
        f'<status>{status}</status></cib>'
    )
