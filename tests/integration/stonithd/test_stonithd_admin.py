"""stonith_admin end to end: daemon-less --cib runs, a real stonithd over zmq ipc, and two
stonithd processes as peers. Real agent processes (fence_hacluster_dummy) throughout."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from stonithd_helpers import Daemon, cib, device, environment, stonith_admin

from messaging.client import Subscriber
from messaging.envelope import Kind, decode, encode
from stonithd import api


def lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path / "agents")


def test_direct_topology_first_level_fails_second_fences(tmp_path: Path,
                                                         env: dict[str, str]) -> None:
    log, state = tmp_path / "actions.log", tmp_path / "power.json"
    common = {"pcmk_host_list": "n1 n2", "log_file": str(log), "state_file": str(state)}
    resources = (device("broken", mode="fail", pcmk_reboot_retries="0", **common)
                 + device("good", **common))
    topology = ('<fencing-level id="l1" target="n2" index="1" devices="broken"/>'
                '<fencing-level id="l2" target="n2" index="2" devices="good"/>')
    (tmp_path / "cib.xml").write_text(cib(resources, topology))
    done = stonith_admin(env, "--cib", str(tmp_path / "cib.xml"), "--node", "n1", "-B", "n2")
    assert done.returncode == 0, done.stderr
    assert [entry[2:] for entry in lines(log)] == [["reboot", "n2"], ["reboot", "n2"]]
    assert json.loads(state.read_text()) == {"n2": "on"}  # off then on again by "good"
    off = stonith_admin(env, "--cib", str(tmp_path / "cib.xml"), "--node", "n1", "-F", "n1")
    assert off.returncode == 0 and json.loads(state.read_text())["n1"] == "off"


def test_direct_hanging_agent_times_out_cleanly(tmp_path: Path, env: dict[str, str]) -> None:
    log = tmp_path / "actions.log"
    resources = device("hang", mode="hang", pcmk_host_list="n2", pcmk_off_timeout="3s",
                       log_file=str(log), state_file=str(tmp_path / "p.json"))
    (tmp_path / "cib.xml").write_text(cib(resources))
    failed = stonith_admin(env, "--cib", str(tmp_path / "cib.xml"), "-F", "n2", "-t", "30")
    assert failed.returncode == 1, failed.stderr
    assert "Couldn't fence n2" in failed.stderr and "timed out after" in failed.stderr
    total = stonith_admin(env, "--cib", str(tmp_path / "cib.xml"), "-F", "n2", "-t", "2")
    assert total.returncode == 124 and "total timeout of 2s" in total.stderr
    for entry in lines(log):
        assert not Path(f"/proc/{entry[1]}").exists() or \
            Path(f"/proc/{entry[1]}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_direct_errors_have_pacemaker_exit_codes(tmp_path: Path, env: dict[str, str]) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    garbage = agents / "fence_garbage"
    garbage.write_text("#!/bin/sh\ngrep -q action=list && { printf '\\001\\377\\n'; exit 0; }\n"
                       "printf '\\001\\377\\n'\nexit 3\n")
    garbage.chmod(0o755)
    resources = (device("dummy", pcmk_host_list="n1", state_file=str(tmp_path / "p.json"))
                 + device("junk", agent="fence_garbage", pcmk_host_list="n3")
                 + device("ghost", agent="fence_not_installed", pcmk_host_list="n4"))
    cib_file = tmp_path / "cib.xml"
    cib_file.write_text(cib(resources))
    run = lambda *a: stonith_admin(env, "--cib", str(cib_file), *a)  # noqa: E731
    nosuch = run("-B", "nobody")
    assert nosuch.returncode == 105 and "Couldn't fence nobody" in nosuch.stderr
    assert run("-Q", "nodevice").returncode == 105
    junk = run("-B", "n3", "-t", "20")
    assert junk.returncode == 1 and "rc=3" in junk.stderr
    listing = run("-s", "junk")
    assert listing.returncode == 1 and "list output line 1" in listing.stderr
    ghost = run("-F", "n4", "-t", "20")
    assert ghost.returncode == 1 and "fence_not_installed is not installed" in ghost.stderr
    cib_file.write_text("<cib><configuration>")
    broken = run("-B", "n1")
    assert broken.returncode == 78 and str(cib_file) in broken.stderr
    assert stonith_admin(env, "-B").returncode == 64
    valid = stonith_admin(env, "-K", "-a", "fence_hacluster_dummy", "-o", "mode=fail")
    assert valid.returncode == 0 and "succeeded" in valid.stdout
    invalid = stonith_admin(env, "-K", "-a", "fence_hacluster_dummy", "-o", "mode=weird")
    assert invalid.returncode == 1 and "mode='weird'" in invalid.stderr
    assert stonith_admin(env, "-B", "n1", "-F", "n2").returncode == 64


def test_no_fencer_running_is_102(tmp_path: Path, env: dict[str, str]) -> None:
    none = stonith_admin(env, "--endpoint", f"ipc://{tmp_path}/nothing.sock", "-B", "n1")
    assert none.returncode == 102 and "Could not connect to fencer" in none.stderr
    assert stonith_admin(env, "--endpoint", f"ipc://{tmp_path}/x.sock", "-L").returncode == 102


def subscribe(endpoint: str, admin: Any) -> Subscriber:
    """A subscriber of FenceResults known to be live: it received the result of a manual
    confirmation (published like any fencing result)."""
    sub = Subscriber(endpoint, api.API, (api.FENCE_TOPIC,))
    while True:
        assert admin("-C", "probe-node").returncode == 0
        if sub.recv(0.5) is not None:
            break
    while sub.recv(0.2) is not None:  # drain the probes' results
        pass
    return sub


def test_daemon_end_to_end_and_cib_reload(tmp_path: Path, env: dict[str, str]) -> None:
    state = tmp_path / "power.json"
    cib_file = tmp_path / "cib.xml"
    cib_file.write_text(cib(device("d1", pcmk_host_list="n2 n3", state_file=str(state))))
    daemon = Daemon(env, cib_file, tmp_path / "run", "n1")
    try:
        admin = lambda *a: stonith_admin(env, "--endpoint", daemon.endpoint, *a)  # noqa: E731
        sub = subscribe(daemon.events, admin)
        assert admin("-B", "n2").returncode == 0
        event = sub.recv(60)
        assert isinstance(event, api.FenceResult), "no FenceResult published"
        assert (event.target, event.action, event.ok, event.executioner) == \
            ("n2", "reboot", True, "n1")
        off = admin("-F", "n3")
        assert off.returncode == 0 and json.loads(state.read_text())["n3"] == "off"
        history = admin("-H", "*")
        assert "reboot of n2 by n1" in history.stdout
        assert "turning off of n3 by n1" in history.stdout
        assert admin("-h", "n3").stdout.startswith("Node n3 last fenced at:")
        assert admin("-L").stdout.split() == ["d1", "1", "fence", "device", "found"]
        assert admin("-l", "n3", "-t", "10").stdout.split()[0] == "d1"
        assert admin("-C", "n2").returncode == 0
        assert "by a human" in admin("-H", "n2").stdout
        assert admin("-B", "stranger").returncode == 105
        raw = zmq.Context.instance().socket(zmq.DEALER)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(daemon.endpoint)
        for frames in ([b"", b"\x93not a stonithd envelope"], [b"", b"a", b"b", b"c"],
                       [b"", msgpack.packb({"v": 1, "t": "FenceRequest", "b": {}})],
                       [b"", encode(api.API, Kind.REQUEST, 9, api.QueryCapable("x", "y", "z",
                                                                               "off"))]):
            raw.send_multipart(frames)
            assert raw.poll(30_000), f"no reply to a malformed request {frames!r}"
            refused = decode(api.API, raw.recv_multipart()[-1])
            assert refused.kind is Kind.ERROR and refused.message.exit_code == 76
        raw.close(0)
        tolerated = admin("-F", "n3", "--tolerance", "600", "-V")
        assert tolerated.returncode == 0 and "by n1" in tolerated.stdout
        cib_file.write_text(cib(device("d1", pcmk_host_list="n2 n3", state_file=str(state))
                                + device("d2", pcmk_host_list="n9")))
        assert wait_for(lambda: "d2" in admin("-L").stdout), daemon.logs()
        cib_file.write_text("<cib><broken")
        assert wait_for(lambda: "cib_rejected" in daemon.logs())
        assert "d2" in admin("-L").stdout  # the last good configuration stays
        sub.close()
    finally:
        daemon.stop()
    assert not (tmp_path / "run" / "stonithd.sock").exists()


def wait_for(check, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_two_daemons_the_one_without_a_device_asks_the_other(tmp_path: Path,
                                                             env: dict[str, str]) -> None:
    state = tmp_path / "power.json"
    ban = '<rsc_location id="ban" rsc="d1" node="n1" score="-INFINITY"/>'
    cib_file = tmp_path / "cib.xml"
    cib_file.write_text(cib(device("d1", pcmk_host_list="n1 n2 n3", state_file=str(state)),
                            constraints=ban))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ends = {"n1": f"ipc://{tmp_path}/a/run/stonithd.sock",
            "n2": f"ipc://{tmp_path}/b/run/stonithd.sock"}
    one = Daemon(env, cib_file, tmp_path / "a" / "run", "n1", ends)
    two = Daemon(env, cib_file, tmp_path / "b" / "run", "n2", ends)
    try:
        assert stonith_admin(env, "--endpoint", one.endpoint, "-L").stdout.split()[0] == "0"
        done = stonith_admin(env, "--endpoint", one.endpoint, "-F", "n3", "-t", "30", "-V")
        assert done.returncode == 0, done.stderr + one.logs() + two.logs()
        assert "by n2" in done.stdout
        assert json.loads(state.read_text()) == {"n3": "off"}
        assert "by n2 for" in stonith_admin(env, "--endpoint", two.endpoint,
                                            "-H", "n3").stdout  # the result reached n2 too
        two_admin = lambda *a: stonith_admin(env, "--endpoint", two.endpoint, *a)  # noqa: E731
        assert two_admin("-H", "n3", "--cleanup").stdout == ""
        assert "by n2 for" in two_admin("-H", "n3", "--broadcast", "-t", "20").stdout
        # nobody but n2 can run d1, so n2 fences itself
        itself = stonith_admin(env, "--endpoint", one.endpoint, "-B", "n2", "-V")
        assert itself.returncode == 0 and "by n2" in itself.stdout
    finally:
        one.stop()
        two.stop()


def test_debian_fence_dummy_works_with_our_fencer(tmp_path: Path, env: dict[str, str]) -> None:
    """fence_dummy has no list action: the default host check becomes `status` (Pacemaker)."""
    if not Path("/usr/sbin/fence_dummy").exists():
        pytest.skip("Debian fence-agents' fence_dummy is not installed")
    status_file = tmp_path / "dummy.status"
    cib_file = tmp_path / "cib.xml"
    cib_file.write_text(cib(device("fd", agent="fence_dummy", status_file=str(status_file))))
    run = lambda *a: stonith_admin(env, "--cib", str(cib_file), "-V", *a)  # noqa: E731
    listed = run("-l", "n1", "-t", "30")
    assert listed.returncode == 0 and listed.stdout.split()[0] == "fd", listed.stderr
    assert "action=status" in listed.stderr  # the capability check ran the agent's status
    on = run("-U", "n1", "-t", "30")
    assert on.returncode == 0, on.stderr
    assert status_file.read_text().strip() == "on"
    off = run("-F", "n1", "-t", "30")
    assert off.returncode == 0 and status_file.read_text().strip() == "off"


@pytest.mark.oracle
def test_exit_codes_match_pacemaker_stonith_admin_without_a_cluster(
        tmp_path: Path, env: dict[str, str]) -> None:
    import shutil
    import subprocess

    real = shutil.which("stonith_admin", path="/usr/sbin:/usr/bin")
    if real is None or "/work/" in real:
        pytest.skip("Pacemaker's stonith_admin (pacemaker-cli-utils) is not installed")
    endpoint = f"ipc://{tmp_path}/none.sock"
    for args in (["-B", "n1"], ["-F", "n1"], ["-L"], ["-H", "*"], ["-B"], []):
        theirs = subprocess.run([real, *args], capture_output=True, text=True, timeout=60,
                                check=False)
        ours = stonith_admin(env, "--endpoint", endpoint, *args)
        assert ours.returncode == theirs.returncode, (args, ours.stderr, theirs.stderr)


def test_launcher_convention_waits_for_the_cib_daemon(tmp_path: Path,
                                                      env: dict[str, str]) -> None:
    """Without --cib, stonithd serves with no devices until the node's cib daemon answers,
    then takes its devices from the daemon's CIB (no file is read)."""
    import subprocess
    import sys

    from cib.api import seed_store

    state = tmp_path / "state"
    argv = [sys.executable, "-m", "stonithd", "-c", "/nonexistent/ha.cf", "-n", "n1",
            "--state-dir", str(state)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"ipc://{state}/stonithd.sock"
    cibd = None
    try:
        assert wait_for(lambda: _answers(endpoint))
        admin = lambda *a: stonith_admin(env, "--endpoint", endpoint, *a)  # noqa: E731
        assert admin("-L").stdout.split()[0] == "0"
        (state / "cib.xml").write_text(cib(device("in-a-file", pcmk_host_list="n2")))
        seed_store(state, cib(device("late", pcmk_host_list="n2")).encode())
        cibd = subprocess.Popen([sys.executable, "-m", "cib", "-n", "n1", "--state-dir",
                                 str(state)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        assert wait_for(lambda: "late" in admin("-L").stdout)
        assert "in-a-file" not in admin("-L").stdout
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
        if cibd is not None:
            cibd.terminate()
            cibd.wait(20)


def _answers(endpoint: str) -> bool:
    from messaging.client import Client
    from messaging.errors import HAError

    try:
        with Client(endpoint, api.API, timeout=1.0) as client:
            client.ping()
    except HAError:
        return False
    return True
