"""hacluster's OCF agents called in-process: dispatch rules, state files, roles, ARP frames,
parameter validation. Each call gets its own environment mapping (no global state)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from lxml import etree

from agents.ocf import dummy, ipaddr, stateful
from agents.ocf._ocf import AgentFailure, Instance, run_agent
from messaging.types import OcfRc


def _instance(**params: str) -> Instance:
    env = {f"OCF_RESKEY_{k}": v for k, v in params.items()}
    env.update(OCF_RESOURCE_INSTANCE="r1", OCF_RESKEY_CRM_meta_interval="10000")
    return Instance(env)


def test_instance_separates_params_from_meta() -> None:
    inst = _instance(state="/x")
    assert inst.params == {"state": "/x"}
    assert inst.meta == {"interval": "10000"}
    assert inst.interval_ms == 10_000 and not inst.is_probe


def test_dispatch_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_agent(dummy.ACTIONS, dummy.METADATA, []) == OcfRc.ERR_ARGS
    assert run_agent(dummy.ACTIONS, dummy.METADATA, ["bogus"]) == OcfRc.ERR_UNIMPLEMENTED
    assert run_agent(dummy.ACTIONS, dummy.METADATA, ["meta-data", "extra"]) == OcfRc.SUCCESS
    out = capsys.readouterr().out
    assert etree.fromstring(out.encode()).get("name") == "Dummy"


def test_dummy_state_file_lifecycle(tmp_path: Path) -> None:
    inst = _instance(state=str(tmp_path / "s"))
    assert dummy.monitor(inst) == OcfRc.NOT_RUNNING
    assert dummy.start(inst) == OcfRc.SUCCESS and dummy.start(inst) == OcfRc.SUCCESS
    assert dummy.monitor(inst) == OcfRc.SUCCESS
    assert dummy.stop(inst) == OcfRc.SUCCESS and dummy.stop(inst) == OcfRc.SUCCESS
    assert dummy.monitor(inst) == OcfRc.NOT_RUNNING


def test_dummy_validation_codes(tmp_path: Path) -> None:
    with pytest.raises(AgentFailure) as bad_sleep:
        dummy.validate(_instance(op_sleep="soon"))
    assert bad_sleep.value.rc == OcfRc.ERR_CONFIGURED
    with pytest.raises(AgentFailure) as bad_dir:
        dummy.validate(_instance(state=str(tmp_path / "missing" / "s")))
    assert bad_dir.value.rc == OcfRc.ERR_ARGS


def test_stateful_roles(tmp_path: Path) -> None:
    inst = _instance(state=str(tmp_path / "s"))
    with pytest.raises(AgentFailure):
        stateful.promote(inst)
    assert stateful.start(inst) == 0 and stateful.monitor(inst) == OcfRc.SUCCESS
    assert stateful.promote(inst) == 0 and stateful.monitor(inst) == OcfRc.RUNNING_PROMOTED
    assert stateful.start(inst) == 0 and stateful.monitor(inst) == OcfRc.RUNNING_PROMOTED
    assert stateful.demote(inst) == 0 and stateful.monitor(inst) == OcfRc.SUCCESS
    assert stateful.stop(inst) == 0 and stateful.monitor(inst) == OcfRc.NOT_RUNNING


def test_gratuitous_arp_frame_layout() -> None:
    frame = ipaddr.arp_frame("02:00:00:aa:bb:cc", "192.0.2.7")
    assert len(frame) == 42
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == bytes.fromhex("020000aabbcc")
    assert frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x01"  # ARP request
    assert socket.inet_ntoa(frame[28:32]) == socket.inet_ntoa(frame[38:42]) == "192.0.2.7"


@pytest.mark.parametrize(
    "params,rc",
    [
        ({}, OcfRc.ERR_CONFIGURED),
        ({"ip": "1.2.3"}, OcfRc.ERR_CONFIGURED),
        ({"ip": "192.0.2.1", "cidr_netmask": "33"}, OcfRc.ERR_CONFIGURED),
        ({"ip": "2001:db8::1", "cidr_netmask": "x"}, OcfRc.ERR_CONFIGURED),
    ],
)
def test_ipaddr_parameter_errors_before_touching_the_host(
    params: dict[str, str], rc: OcfRc
) -> None:
    class NoHost:
        def get_addr(self, **_kw: object) -> list[object]:
            return []

    with pytest.raises(AgentFailure) as failure:
        ipaddr.configure(_instance(**params), NoHost())
    assert failure.value.rc == rc


def test_wrappers_are_executable_and_named_like_the_agents() -> None:
    root = Path(ipaddr.__file__).parent / "resource.d" / "hacluster"
    names = sorted(p.name for p in root.iterdir())
    assert names == ["Dummy", "IPaddr", "Stateful"]
    for path in root.iterdir():
        assert path.stat().st_mode & 0o111, f"{path} lost its executable bit"
        assert "-m agents.ocf." in path.read_text()
