"""The lrmd daemon with real agents and real processes: lifecycles, timeouts, monitors,
bad input. No wall-clock assertions (the machine is shared): ordering and what the daemon
reports are checked; timing rules are the core's and are tested with a fake clock."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from lrmd_harness import Daemon, next_event
from lxml import etree

from lrmd.api import (
    API,
    CONTROL_SOCKET,
    AgentSpec,
    CancelRequest,
    ExecRequest,
    HistoryReply,
    HistoryRequest,
    MetadataReply,
    MetadataRequest,
    op_digest,
)
from messaging.envelope import Kind, decode
from messaging.errors import HAError
from messaging.types import OpStatus

HB_DUMMY = Path("/usr/lib/ocf/resource.d/heartbeat/Dummy")


@pytest.mark.skipif(not HB_DUMMY.exists(), reason="Debian's resource-agents is not installed")
def test_heartbeat_dummy_lifecycle_with_state_file(lrmd: Daemon, tmp_path: Path) -> None:
    state = tmp_path / "dummy.state"
    params = {"state": str(state)}
    rcs = []
    for action in ("monitor", "start", "monitor", "start", "stop", "monitor", "stop"):
        result = lrmd.execute("ocf:heartbeat:Dummy", action, params=params)
        assert result.status == OpStatus.DONE
        rcs.append(result.rc)
        if action == "start":
            assert state.exists()
        if action == "stop":
            assert not state.exists()
    assert rcs == [7, 0, 0, 0, 0, 7, 0]
    with lrmd.client() as client:
        reply = client.request(HistoryRequest("r1"))
    assert isinstance(reply, HistoryReply)
    last = [r for r in reply.records if r.action == "stop"][-1]
    assert last.op_digest == op_digest(params)
    assert last.call_id == 7 and last.rc == 0


def test_stateful_roles_through_lrmd(lrmd: Daemon, tmp_path: Path) -> None:
    params = {"state": str(tmp_path / "stateful")}
    steps = [
        ("monitor", 7),
        ("start", 0),
        ("monitor", 0),
        ("promote", 0),
        ("monitor", 8),
        ("demote", 0),
        ("monitor", 0),
        ("notify", 0),
        ("stop", 0),
        ("monitor", 7),
    ]
    got = [(a, lrmd.execute("ocf:hacluster:Stateful", a, params=params).rc) for a, _ in steps]
    assert got == steps


def test_timeout_kills_the_process_group(lrmd: Daemon, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    result = lrmd.execute(
        "ocf:test:Sleeper", "start", params={"pidfile": str(pidfile)}, timeout_ms=1000
    )
    assert result.status == OpStatus.TIMEOUT
    assert "1000 ms" in result.exit_reason
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 60
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the agent's child survived the timeout"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_agent_ignoring_sigterm_gets_sigkill(lrmd: Daemon, tmp_path: Path) -> None:
    pidfile = tmp_path / "stubborn.pid"
    result = lrmd.execute("ocf:test:Stubborn", "start", params={"pidfile": str(pidfile)},
                          timeout_ms=500)
    assert result.status == OpStatus.TIMEOUT
    # the agent traps SIGTERM, so only SIGKILL can have ended it; when (one kill grace
    # after the timeout) is exact on the simulator's clock (tests/unit/lab/test_sim_timing.py)
    agent = int(pidfile.read_text())
    deadline = time.monotonic() + 60
    while _alive(agent) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(agent), "the agent that ignores SIGTERM survived the timeout"


def test_failing_monitor_noticed_within_one_interval(lrmd: Daemon, tmp_path: Path) -> None:
    state = tmp_path / "d.state"
    params = {"state": str(state)}
    assert lrmd.execute("ocf:hacluster:Dummy", "start", params=params).rc == 0
    sub = lrmd.subscribe()
    first = lrmd.execute(
        "ocf:hacluster:Dummy", "monitor", params=params, interval_ms=2000, target_rc=0
    )
    assert first.rc == 0
    state.unlink()
    event = next_event(sub, 60)
    while event is not None and event.rc == 0:  # the first result may still be in flight
        event = next_event(sub, 60)
    assert event is not None and event.rc == 7 and event.interval_ms == 2000
    # a recurring result is published when it changes, not at every run (Pacemaker's
    # executor reports a recurring op's repeated result once): two more intervals pass
    # without a second failure event, and the recovery is published again
    assert next_event(sub, 5) is None
    state.write_text("")
    recovered = next_event(sub, 60)
    assert recovered is not None and recovered.rc == 0 and recovered.call_id == event.call_id
    sub.close()
    with lrmd.client() as client:
        client.request(CancelRequest("r1", "monitor", 2000))


def test_bad_input_gives_clear_results(lrmd: Daemon, tmp_path: Path) -> None:
    missing = lrmd.execute("ocf:nobody:Nothing", "start")
    assert (missing.rc, missing.status) == (5, OpStatus.NOT_INSTALLED)
    assert "not installed" in missing.exit_reason
    bad_dir = lrmd.execute(
        "ocf:hacluster:Dummy", "start", params={"state": str(tmp_path / "no" / "such" / "x")}
    )
    assert bad_dir.rc == 2 and "does not exist" in bad_dir.exit_reason
    bad_value = lrmd.execute("ocf:hacluster:Dummy", "validate-all", params={"op_sleep": "abc"})
    assert bad_value.rc == 6
    bad_ip = lrmd.execute("ocf:hacluster:IPaddr", "validate-all", params={"ip": "300.1.1.1"})
    assert bad_ip.rc == 6 and "300.1.1.1" in bad_ip.exit_reason
    reason = lrmd.execute("ocf:test:Exit", "start", params={"rc": "4"})
    assert (reason.rc, reason.exit_reason) == (4, "asked to exit 4")
    unknown_action = lrmd.execute("ocf:hacluster:Dummy", "frobnicate")
    assert unknown_action.rc == 3


def test_garbage_and_hung_agents_do_not_disturb_others(lrmd: Daemon, tmp_path: Path) -> None:
    results: dict[str, object] = {}

    def run(name: str, agent: str, timeout_ms: int) -> None:
        results[name] = lrmd.execute(agent, "start", resource=name, timeout_ms=timeout_ms)

    pidfile = tmp_path / "hung.pid"

    def run_hung() -> None:
        results["hung"] = lrmd.execute("ocf:test:Sleeper", "start", resource="hung",
                                       params={"pidfile": str(pidfile)}, timeout_ms=10_000)

    threads = [
        threading.Thread(target=run_hung),
        threading.Thread(target=run, args=("junk", "ocf:test:Garbage", 20_000)),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while not pidfile.exists():  # the hung agent runs: a condition, not a time
        assert time.monotonic() < deadline, "the hung agent never started"
        time.sleep(0.05)
    quick = lrmd.execute(
        "ocf:hacluster:Dummy", "start", resource="quick", params={"state": str(tmp_path / "q")}
    )
    assert quick.rc == 0 and "hung" not in results  # not queued behind the hung agent
    for thread in threads:
        thread.join(60)
    junk = results["junk"]
    assert junk.rc == 0 and len(junk.output) <= 64 * 1024 + 1  # type: ignore[attr-defined]
    assert results["hung"].status == OpStatus.TIMEOUT  # type: ignore[attr-defined]


def test_garbage_requests_get_error_replies(lrmd: Daemon) -> None:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"ipc://{lrmd.state_dir / CONTROL_SOCKET}")
    for frames in ([b"", b"\xc1\xff not msgpack"], [b"", b"\x93\x01\x02\x03"],
                   [b"", b"a", b"b", b"c"], [b"", msgpack.packb([2, ["ListRequest", []]])]):
        sock.send_multipart(frames)
        assert sock.poll(10_000)
        assert decode(API, sock.recv_multipart()[-1]).kind is Kind.ERROR
    sock.close(0)
    with lrmd.client() as client, pytest.raises(HAError, match="timeout must be > 0"):
        client.execute(
            ExecRequest("r", AgentSpec.parse("ocf:hacluster:Dummy"), "start", timeout_ms=0)
        )
    assert lrmd.execute("ocf:hacluster:Dummy", "meta-data").rc == 0


def test_metadata_is_cached(lrmd: Daemon, tmp_path: Path) -> None:
    runs = tmp_path / "ocf" / "resource.d" / "test" / ".counted_runs"
    with lrmd.client() as client:
        replies = [client.request(MetadataRequest(AgentSpec.parse("ocf:test:Counted")),
                                  timeout=30) for _ in range(3)]
    assert all(isinstance(r, MetadataReply) and 'name="Counted"' in r.xml for r in replies)
    assert runs.read_text().splitlines() == ["run"]  # the agent ran once for three requests


def test_metadata_is_valid(lrmd: Daemon) -> None:
    schema_path = "/usr/share/resource-agents/metadata.rng"  # resource-agents' OCF 1.0 schema
    schema = etree.RelaxNG(etree.parse(schema_path)) if os.path.exists(schema_path) else None
    with lrmd.client() as client:
        for agent in ("ocf:hacluster:IPaddr", "ocf:hacluster:Dummy", "ocf:hacluster:Stateful"):
            reply = client.request(MetadataRequest(AgentSpec.parse(agent)), timeout=30)
            assert isinstance(reply, MetadataReply)
            root = etree.fromstring(reply.xml.encode())
            assert root.get("name") == agent.rsplit(":", 1)[1]
            if schema is not None:
                for parameter in root.iter("parameter"):  # OCF 1.1 addition, unknown to 1.0
                    parameter.attrib.pop("reloadable", None)
                assert schema.validate(root), schema.error_log


def test_lsb_script_codes_are_mapped_to_ocf(lrmd: Daemon) -> None:
    assert lrmd.execute("lsb:testd", "monitor").rc == 7  # LSB status 3 = not running
    assert lrmd.execute("lsb:testd", "start").rc == 0
    assert lrmd.execute("lsb:testd", "monitor").rc == 0
    assert lrmd.execute("lsb:testd", "stop").rc == 0
    assert lrmd.execute("lsb:testd", "status").rc == 7
    assert lrmd.execute("lsb:nosuchscript", "start").status == OpStatus.NOT_INSTALLED


def test_stonith_class_without_stonithd_is_not_connected(lrmd: Daemon) -> None:
    result = lrmd.execute("stonith:fence_dummy", "start")
    assert result.status == OpStatus.NOT_CONNECTED
    assert "stonithd is not running" in result.exit_reason
    # a probe needs no fencer: the executor answers it from its own record of starts, as
    # Pacemaker's executor does for fencing resources
    probe = lrmd.execute("stonith:fence_dummy", "monitor")
    assert (probe.status, probe.rc) == (OpStatus.DONE, 7)


def test_same_resource_serialised_other_resources_parallel(lrmd: Daemon, tmp_path: Path) -> None:
    sub = lrmd.subscribe()
    with lrmd.client() as client:
        for resource in ("a", "a", "b"):
            client.request(
                ExecRequest(
                    resource,
                    AgentSpec.parse("ocf:hacluster:Dummy"),
                    "start",
                    params={"op_sleep": "1", "state": str(tmp_path / resource)},
                    reply=False,
                )
            )
    events = [next_event(sub, 60) for _ in range(3)]
    sub.close()
    assert all(e is not None for e in events)
    order = [e.resource for e in events if e is not None]
    assert sorted(order) == ["a", "a", "b"]
    first_a, second_a = [e for e in events if e is not None and e.resource == "a"]
    assert second_a.queue_time_ms >= 900  # waited for the first "a" (op_sleep 1 s) to end
    assert second_a.last_run >= first_a.last_run + first_a.exec_time_ms / 1000 - 0.01
    b = next(e for e in events if e is not None and e.resource == "b")
    assert b.last_run < first_a.last_run + first_a.exec_time_ms / 1000  # beside the first "a"


def test_agent_environment(lrmd: Daemon, tmp_path: Path) -> None:
    envfile = tmp_path / "env"
    result = lrmd.execute(
        "ocf:test:Env",
        "monitor",
        resource="web:1",
        interval_ms=15_000,
        timeout_ms=30_000,
        params={"envfile": str(envfile), "OCF_CHECK_LEVEL": "10", "ip": "192.0.2.5"},
        meta={"clone-max": "2", "notify_type": "pre"},
    )
    assert result.rc == 0
    env = dict(line.split("=", 1) for line in envfile.read_text().splitlines() if "=" in line)
    assert env["OCF_ROOT"] == str(tmp_path / "ocf")
    assert (env["OCF_RA_VERSION_MAJOR"], env["OCF_RA_VERSION_MINOR"]) == ("1", "1")
    assert env["OCF_RESOURCE_INSTANCE"] == "web:1"
    assert (env["OCF_RESOURCE_TYPE"], env["OCF_RESOURCE_PROVIDER"]) == ("Env", "test")
    assert env["OCF_RESKEY_ip"] == "192.0.2.5"
    assert env["OCF_RESKEY_CRM_meta_timeout"] == "30000"
    assert env["OCF_RESKEY_CRM_meta_interval"] == "15000"
    assert env["OCF_RESKEY_CRM_meta_clone_max"] == "2"
    assert env["OCF_RESKEY_CRM_meta_notify_type"] == "pre"
    assert env["OCF_CHECK_LEVEL"] == "10" and "OCF_RESKEY_OCF_CHECK_LEVEL" not in env
    assert env["OCF_EXIT_REASON_PREFIX"] == "ocf-exit-reason:"
    assert "LRMD_TEST_LEAK" not in env  # agents get a clean environment
    assert env["HA_RSCTMP"] == str(tmp_path / "rsctmp")  # but the daemon's HA_* settings
    with lrmd.client() as client:
        client.request(CancelRequest("web:1", "monitor", 15_000))


def test_probe_environment_is_what_it_was_given(lrmd: Daemon, tmp_path: Path) -> None:
    """A probe as crmd sends it (the graph action's attributes but op_target_rc): the agent
    sees them and no CRM_meta_interval or CRM_meta_name besides, as under Pacemaker 2.1.5
    (tests/unit/lab/pacemaker_env/clone-notify-dummy.env, its first run)."""
    envfile = tmp_path / "env"
    result = lrmd.execute(
        "ocf:test:Env", "monitor", resource="web", timeout_ms=25_000,
        params={"envfile": str(envfile), "crm_feature_set": "3.16.1"},
        meta={"timeout": "25000", "on_node": "n1", "on_node_uuid": "1"},
    )
    assert result.rc == 0
    env = dict(line.split("=", 1) for line in envfile.read_text().splitlines() if "=" in line)
    meta = {k for k in env if k.startswith("OCF_RESKEY_CRM_meta_")}
    assert meta == {"OCF_RESKEY_CRM_meta_timeout", "OCF_RESKEY_CRM_meta_on_node",
                    "OCF_RESKEY_CRM_meta_on_node_uuid"}
    assert env["OCF_RESKEY_crm_feature_set"] == "3.16.1"


def test_stonith_class_is_handed_to_stonithd(lrmd: Daemon) -> None:
    """A stand-in stonithd on the state dir's socket receives the hand-off and answers."""
    from messaging.envelope import encode
    from messaging.handoff import HANDOFF, STONITHD_SOCKET, StonithExecRequest, StonithExecResult

    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(f"ipc://{lrmd.state_dir / STONITHD_SOCKET}")
    seen: list[object] = []

    def answer() -> None:
        if router.poll(30_000):
            identity, _, payload = router.recv_multipart()
            envelope = decode(HANDOFF, payload)
            request = envelope.message
            seen.append(request)
            reply = StonithExecResult(request.call_id, rc=0, status=0)
            router.send_multipart([identity, b"", encode(HANDOFF, Kind.REPLY,
                                                         envelope.request_id, reply)])

    thread = threading.Thread(target=answer)
    thread.start()
    result = lrmd.execute(  # a start: probes are answered without the fencer
        "stonith:fence_virt", "start", resource="fence1", params={"port": "node1"}
    )
    thread.join(30)
    router.close(0)
    assert (result.rc, result.status) == (0, OpStatus.DONE)
    assert len(seen) == 1 and isinstance(seen[0], StonithExecRequest)
    assert (seen[0].agent, seen[0].action, seen[0].params["port"]) == (
        "fence_virt",
        "start",
        "node1",
    )


def test_child_holding_stdout_does_not_stall_the_result(lrmd: Daemon, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    result = lrmd.execute("ocf:test:Daemonizer", "start", params={"pidfile": str(pidfile)})
    try:
        assert (result.rc, result.status) == (0, OpStatus.DONE)
        assert "started" in result.output
        # the result came while the 30 s sleeper still holds the pipe (it is alive), and a
        # successful start's children are left alone
        assert _alive(int(pidfile.read_text()))
    finally:
        os.kill(int(pidfile.read_text()), 9)


def test_sockets_are_group_only(lrmd: Daemon) -> None:
    import stat

    from lrmd.api import PUBLISH_SOCKET

    for name in (CONTROL_SOCKET, PUBLISH_SOCKET):
        mode = (lrmd.state_dir / name).stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
