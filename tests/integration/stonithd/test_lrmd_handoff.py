"""stonith-class resources: a real lrmd hands the operation to a real stonithd in the same
state directory (as Pacemaker's executor hands them to its fencer), which runs the device's
agent and answers with an OCF result."""

from __future__ import annotations

from pathlib import Path

from stonithd_helpers import Daemon, cib, device, environment

from messaging.types import OcfRc, OpStatus
from tests.integration.lrmd.lrmd_harness import start_daemon, stop_daemon


def test_stonith_resource_lifecycle_runs_through_stonithd(tmp_path: Path) -> None:
    lrmd = start_daemon(tmp_path)
    cib_file = tmp_path / "cib.xml"
    cib_file.write_text(cib(device("fence-n2", pcmk_host_list="n2",
                                   state_file=str(tmp_path / "power.json"))))
    fencer = Daemon(environment(tmp_path / "agents"), cib_file, lrmd.state_dir, "n1")
    try:
        agent = "stonith:fence_hacluster_dummy"
        # a probe where this executor did not start the device: not running, although
        # the fencer knows the device (Pacemaker's executor answers from its own record)
        probe = lrmd.execute(agent, "monitor", resource="fence-n2")
        assert (probe.rc, probe.status) == (OcfRc.NOT_RUNNING, OpStatus.DONE), probe
        start = lrmd.execute(agent, "start", resource="fence-n2")
        assert (start.rc, start.status) == (OcfRc.SUCCESS, OpStatus.DONE), start
        monitor = lrmd.execute(agent, "monitor", resource="fence-n2")
        assert monitor.rc == OcfRc.SUCCESS, monitor
        assert lrmd.execute(agent, "stop", resource="fence-n2").rc == OcfRc.SUCCESS
        assert lrmd.execute(agent, "monitor", resource="fence-n2").rc == OcfRc.NOT_RUNNING
        missing_monitor = lrmd.execute(agent, "monitor", resource="fence-ghost")
        assert missing_monitor.rc == OcfRc.NOT_RUNNING, missing_monitor
        missing_start = lrmd.execute(agent, "start", resource="fence-ghost")
        assert missing_start.rc == OcfRc.ERR_CONFIGURED
        assert "fence-ghost" in missing_start.exit_reason
        assert "bad_client_message" not in fencer.logs()
    finally:
        fencer.stop()
        stop_daemon(lrmd)
