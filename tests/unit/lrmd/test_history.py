"""Pacemaker's op-digest reproduced against lrm_rsc_op entries of the scheduler corpus, the
lrm_rsc_op id rule and the wire codec round trip."""

from __future__ import annotations

import re
from pathlib import Path

import msgpack
import pytest
from lxml import etree

from lrmd.api import API
from lrmd.history import lrm_rsc_op_attributes, lrm_rsc_op_element, op_digest
from lrmd.messages import AgentSpec, ExecRequest, HistoryReply, OpCompleted
from messaging.envelope import Kind, decode, encode
from messaging.errors import RemoteProtocolError, UsageError
from messaging.types import OpStatus


def _seconds_to_ms(text: str) -> int:
    match = re.fullmatch(r"(\d+)(ms|s|m)?", text)
    assert match, text
    factor = {"ms": 1, "s": 1000, "m": 60_000, None: 1000}[match.group(2)]
    return int(match.group(1)) * factor


def _cases(
    doc: etree._ElementTree, operation: str, resource: str
) -> list[tuple[dict[str, str], int, int, str]]:
    cases = []
    for prim in doc.xpath(f"//primitive[@id='{resource}']"):
        attrs = prim.find("instance_attributes")
        params = (
            {nv.get("name"): nv.get("value") for nv in attrs.iter("nvpair")}
            if (attrs is not None)
            else {}
        )
        path = f"//lrm_resource[@id='{prim.get('id')}']/lrm_rsc_op[@operation='{operation}']"
        for entry in doc.xpath(path):
            interval = int(entry.get("interval"))
            timeout = 20_000
            for op in prim.iter("op"):
                if (
                    op.get("name") == operation
                    and int(_seconds_to_ms(op.get("interval", "0"))) == interval
                    and op.get("timeout")
                ):
                    timeout = _seconds_to_ms(op.get("timeout"))
            cases.append((params, interval, timeout, entry.get("op-digest")))
    return cases


@pytest.mark.parametrize(
    "name,operation,resource",
    [
        ("594.xml", "start", "DcIPaddr"),
        ("1360.xml", "start", "VIP"),
        ("594.xml", "monitor", "rsc_hadev3"),  # only the entry written after the change
        ("662.xml", "monitor", "DcIPaddr"),
    ],
)
def test_op_digest_matches_pacemaker_recorded_digests(
    shared: Path, name: str, operation: str, resource: str
) -> None:
    doc = etree.parse(str(shared / "conformance/scheduler/xml" / name))
    cases = _cases(doc, operation, resource)
    assert cases, "no lrm_rsc_op entries to compare with"
    # 594.xml also holds a deliberately stale monitor entry (old definition) on one node;
    # every other entry must match, and at least one does.
    matched = [c for c in cases if op_digest(c[0], c[1], c[2]) == c[3]]
    assert matched and len(matched) >= len(cases) - 1
    for params, interval, timeout, recorded in matched:
        if interval:  # recurring digests include the timeout, so without it they differ
            assert op_digest(params, 0, timeout) != recorded


def test_op_digest_ignores_meta_keys_and_escapes_values() -> None:
    base = op_digest({"ip": "10.0.0.1"})
    assert op_digest({"ip": "10.0.0.1", "CRM_meta_timeout": "5", "crm_feature_set": "3"}) == base
    assert op_digest({"ip": "10.0.0.1"}, interval_ms=10_000) != base
    assert op_digest({"a": 'x"y'}) != op_digest({"a": "x'y"})


def _result(**kw: object) -> OpCompleted:
    fields: dict[str, object] = dict(
        call_id=7,
        resource="db",
        agent=AgentSpec("ocf", "Dummy", "heartbeat"),
        action="start",
        interval_ms=0,
        rc=0,
        status=int(OpStatus.DONE),
    )
    fields.update(kw)
    return OpCompleted(**fields)  # type: ignore[arg-type]


def test_lrm_rsc_op_id_rule() -> None:
    def ident(**kw: object) -> str:
        return lrm_rsc_op_attributes(_result(**kw), node="n1")["id"]

    assert ident() == "db_last_0"
    assert ident(rc=1) == "db_last_failure_0"
    assert ident(action="monitor", interval_ms=10_000) == "db_monitor_10000"
    assert ident(action="monitor", interval_ms=10_000, rc=7) == "db_last_failure_0"
    assert ident(action="monitor", rc=7) == "db_last_0"  # a probe finding it stopped is fine
    assert ident(action="migrate_to") == "db_migrate_to_0"
    assert ident(status=int(OpStatus.TIMEOUT)) == "db_last_failure_0"


def test_lrm_rsc_op_element_carries_result_fields() -> None:
    element = lrm_rsc_op_element(
        _result(
            exec_time_ms=12,
            queue_time_ms=3,
            last_rc_change=1700000000.5,
            op_digest=op_digest({"state": "/x"}),
            exit_reason="why",
        ),
        node="n1",
        transition_key="3:5:0:abc",
    )
    assert element.tag == "lrm_rsc_op"
    assert element.get("transition-magic") == "0:0;3:5:0:abc"
    assert element.get("call-id") == "7" and element.get("exec-time") == "12"
    assert element.get("last-rc-change") == "1700000000"
    assert element.get("op-digest") == op_digest({"state": "/x"})
    assert element.get("exit-reason") == "why"


def test_wire_round_trip_and_bad_input() -> None:
    request = ExecRequest(
        "db", AgentSpec("ocf", "Dummy", "heartbeat"), "monitor", params={"a": "1"}, interval_ms=5000
    )
    frame = encode(API, Kind.REQUEST, 1, request)
    assert decode(API, frame).message == request
    reply = HistoryReply(records=(_result(),))
    assert decode(API, encode(API, Kind.REPLY, 1, reply)).message == reply
    old_format = msgpack.packb([2, ["ExecRequest", []]])
    for bad in (b"\xc1garbage", frame.replace(b"ExecRequest", b"ExecRequesX"), old_format):
        with pytest.raises(RemoteProtocolError):
            decode(API, bad)


def test_agent_spec_parse() -> None:
    assert str(AgentSpec.parse("ocf:heartbeat:IPaddr2")) == "ocf:heartbeat:IPaddr2"
    assert AgentSpec.parse("lsb:cron").standard == "lsb"
    for bad in ("IPaddr2", "ocf::Dummy", "foo:bar"):
        with pytest.raises(UsageError):
            AgentSpec.parse(bad)


def _metadata(
    non_reloadable: list[str], reloadable: list[str], private: tuple[str, ...] = ()
) -> str:
    """Synthetic OCF 1.1 meta-data declaring which parameters are reloadable/private."""
    root = etree.Element("resource-agent", name="X")
    etree.SubElement(root, "version").text = "1.1"
    parameters = etree.SubElement(root, "parameters")
    for name in [*non_reloadable, *reloadable]:
        parameter = etree.SubElement(parameters, "parameter", name=name)
        if name in reloadable:
            parameter.set("reloadable", "1")
        if name in private:
            parameter.set("private", "1")
    actions = etree.SubElement(root, "actions")
    for action in ("start", "reload-agent"):
        etree.SubElement(actions, "action", name=action, timeout="20s")
    return etree.tostring(root, encoding="unicode")


@pytest.mark.parametrize("name", ["bug-cl-5170.xml", "bug-lf-2453.xml"])
def test_restart_digest_matches_pacemaker(shared: Path, name: str) -> None:
    doc = etree.parse(str(shared / "conformance/scheduler/xml" / name))
    checked = 0
    for entry in doc.xpath("//lrm_rsc_op[@op-force-restart][@operation='start']"):
        rid = entry.getparent().get("id").split(":")[0]
        attrs = doc.xpath(f"//primitive[@id='{rid}']/instance_attributes/nvpair")
        params = {nv.get("name"): nv.get("value") for nv in attrs}
        listed = entry.get("op-force-restart").split()
        metadata = _metadata(listed, [p for p in params if p not in listed] + ["unset_one"])
        result = _result(resource=rid, params=params)
        got = lrm_rsc_op_attributes(result, node="n1", metadata=metadata)
        assert got["op-force-restart"].split() == listed
        assert got["op-force-restart"].startswith(" ") and got["op-force-restart"].endswith(" ")
        assert got["op-restart-digest"] == entry.get("op-restart-digest")
        checked += 1
    assert checked


def test_secure_digest_leaves_private_parameters_out() -> None:
    metadata = _metadata(["user", "passwd"], [], private=("passwd",))
    one = _result(params={"user": "a", "passwd": "x"})
    two = _result(params={"user": "a", "passwd": "y"})
    first = lrm_rsc_op_attributes(one, node="n1", metadata=metadata)
    second = lrm_rsc_op_attributes(two, node="n1", metadata=metadata)
    assert first["op-secure-params"] == " passwd "
    assert first["op-secure-digest"] == second["op-secure-digest"] == op_digest({"user": "a"})
    recurring = _result(action="monitor", interval_ms=10_000, params={"user": "a"})
    assert "op-force-restart" not in lrm_rsc_op_attributes(recurring, node="n", metadata=metadata)
    assert lrm_rsc_op_attributes(one, node="n", metadata="<not xml") == lrm_rsc_op_attributes(
        one, node="n"
    )


def test_lrm_resource_from_core_history() -> None:
    from lrmd.api import lrm_resource_element
    from lrmd.ops import AgentFinished, LrmdCore, Submit

    core = LrmdCore()
    agent = AgentSpec("ocf", "Dummy", "heartbeat")
    for number, (action, interval, rc) in enumerate(
        [("start", 0, 0), ("monitor", 10_000, 0), ("stop", 0, 1)], start=1
    ):
        core.handle(Submit(ExecRequest("db", agent, action, interval_ms=interval), 0.0))
        core.handle(AgentFinished(number, rc, 1.0))
    element = lrm_resource_element("db", agent, core.history("db"), node="n1")
    assert (element.get("class"), element.get("provider"), element.get("type")) == (
        "ocf",
        "heartbeat",
        "Dummy",
    )
    ops = {op.get("id"): op for op in element}
    # the failed stop cancelled the monitor, and is both the last failure and the last op
    assert sorted(ops) == ["db_last_0", "db_last_failure_0"]
    assert ops["db_last_0"].get("operation") == "stop" and ops["db_last_0"].get("rc-code") == "1"


def test_public_surface_of_lrmd_api() -> None:
    import lrmd.api

    assert set(lrmd.api.__all__) >= {
        "LrmdClient",
        "ExecRequest",
        "OpCompleted",
        "op_digest",
        "lrm_rsc_op_element",
        "lrm_resource_element",
        "API",
        "CONTROL_SOCKET",
        "OP_TOPIC",
    }
    assert all(hasattr(lrmd.api, name) for name in lrmd.api.__all__)
