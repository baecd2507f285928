"""Respawn backoff and the daemon table (which daemons a node starts, in which order)."""

from __future__ import annotations

from messaging.config import parse_ha_cf
from messaging.supervisor import (
    DAEMONS,
    NO_RESPAWN_EXIT,
    DaemonSpec,
    RespawnPolicy,
    StartContext,
    daemons_to_start,
)


def test_a_first_exit_respawns_at_once_then_backoff_doubles_and_resets_after_a_stable_run(
        ) -> None:
    """pacemakerd respawns a subdaemon as soon as it exits (pcmk_process_exit ->
    start_child): a crmd killed with -9 must be back without a timer, or its DC learns of
    the loss (from the new controller's start time) a whole delay later."""
    policy = RespawnPolicy(initial=1.0, maximum=8.0, stable_after=60.0)
    delays = [policy.on_exit("ccm", 1, started=float(t), now=float(t) + 0.5) for t in range(7)]
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.on_exit("ccm", -9, started=100.0, now=200.0) == 0.0  # ran 100 s: reset
    assert policy.on_exit("ccm", -9, started=200.0, now=201.0) == 1.0
    assert policy.on_exit("cib", 1, started=0.0, now=1.0) == 0.0  # per daemon
    assert policy.restarts == {"ccm": 9, "cib": 1}


def test_exit_100_means_do_not_respawn() -> None:
    assert RespawnPolicy().on_exit("crmd", NO_RESPAWN_EXIT, 0.0, 1.0) is None


def test_only_installed_daemons_and_crm_ones_only_with_crm_on() -> None:
    table = (DaemonSpec("heartbeat", "messaging.heartbeat", False),
             DaemonSpec("ghost", "no_such_package_xyz", False),
             DaemonSpec("crmish", "messaging.heartbeat", True))
    off = parse_ha_cf("bcast lo\nnode a\n")
    on = parse_ha_cf("bcast lo\nnode a\ncrm respawn\n")
    assert [d.name for d in daemons_to_start(off, table)] == ["heartbeat"]
    assert [d.name for d in daemons_to_start(on, table)] == ["heartbeat", "crmish"]


def test_heartbeat_is_first_and_gets_authkeys_and_bind() -> None:
    assert DAEMONS[0].name == "heartbeat"
    ctx = StartContext("/etc/ha.d/ha.cf", "/etc/ha.d/authkeys", "n1", "/var/lib/x", "127.0.0.5")
    argv = DAEMONS[0].command(ctx)
    assert argv[1:3] == ["-m", "messaging.heartbeat"]
    assert argv[3:] == ["-c", "/etc/ha.d/ha.cf", "-k", "/etc/ha.d/authkeys", "-n", "n1",
                        "--state-dir", "/var/lib/x", "--bind", "127.0.0.5"]
    ccm = next(d for d in DAEMONS if d.name == "ccm")
    assert ccm.command(ctx)[3:] == ["-c", "/etc/ha.d/ha.cf", "-n", "n1", "--state-dir",
                                    "/var/lib/x"]


def test_lrmd_gets_only_its_state_dir() -> None:
    ctx = StartContext("/etc/ha.d/ha.cf", "/etc/ha.d/authkeys", "n1", "/var/lib/x")
    lrmd = next(d for d in DAEMONS if d.name == "lrmd")
    assert lrmd.command(ctx)[1:] == ["-m", "lrmd", "--state-dir", "/var/lib/x"]


def test_attrd_starts_between_cib_and_lrmd_from_its_plain_module() -> None:
    names = [d.name for d in DAEMONS]
    assert names.index("cib") + 1 == names.index("attrd") == names.index("lrmd") - 1
    attrd = next(d for d in DAEMONS if d.name == "attrd")
    ctx = StartContext("/etc/ha.d/ha.cf", "/etc/ha.d/authkeys", "n1", "/var/lib/x")
    assert attrd.installed() and attrd.command(ctx)[1:3] == ["-m", "cib.attrd_daemon"]
    assert attrd.control_endpoint(ctx) == "ipc:///var/lib/x/attrd.ctl"
    assert not DaemonSpec("ghost", "cib.no_such_module_xyz", True).installed()
