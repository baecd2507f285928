"""ha.cf parsing: Heartbeat defaults and syntax, our extensions, errors naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from messaging.config import load_ha_cf, parse_ha_cf, parse_time
from messaging.errors import ConfigError, ExitCode

# The ha.cf the Heartbeat 3.0.6 captures were made with (see heartbeat-captures/README).
HEARTBEAT_LAB_HA_CF = """\
use_logd no
logfacility none
logfile /var/log/ha-log
debugfile /var/log/ha-debug
udpport 694
keepalive 1
deadtime 5
warntime 3
initdead 10
ucast eth0 10.88.0.11          # one line per node
ucast eth0 10.88.0.12
node hb1 hb2
crm off
auto_failback off
realtime on
apiauth cl_status uid=root gid=haclient
"""


def test_heartbeat_users_file_is_accepted_unchanged() -> None:
    config = parse_ha_cf(HEARTBEAT_LAB_HA_CF, "/etc/ha.d/ha.cf")
    assert (config.keepalive, config.deadtime, config.warntime, config.initdead) == (1, 5, 3, 10)
    assert config.nodes == ("hb1", "hb2")
    assert [(m.kind, m.interface, m.address, m.port) for m in config.media] == [
        ("ucast", "eth0", "10.88.0.11", 694), ("ucast", "eth0", "10.88.0.12", 694)]
    assert config.links == ("eth0",)
    assert config.logfile == "/var/log/ha-log" and config.logfacility == "none"
    assert {name for name, _ in config.legacy} == {"use_logd", "auto_failback", "apiauth"}
    assert config.realtime is True and config.rtprio == 1


def test_ucast_line_naming_own_address_is_ignored() -> None:
    config = parse_ha_cf(HEARTBEAT_LAB_HA_CF)
    mine = config.media_for(["10.88.0.11", "127.0.0.1"])
    assert [m.address for m in mine] == ["10.88.0.12"]


def test_heartbeat_defaults() -> None:
    config = parse_ha_cf("bcast eth0\nnode a b\n")
    assert config.keepalive == 1.0 and config.deadtime == 30.0
    assert config.warntime == 15.0 and config.initdead == 30.0
    assert config.udpport == 694 and config.autojoin == "none" and config.crm == "off"
    assert config.cluster_name == "hacluster" and config.state_dir == "/var/lib/hacluster"


@pytest.mark.parametrize(
    ("deadtime", "initdead"),
    [("5", 12.0), ("8", 16.0), ("20", 20.0)],  # <6 s: 12 s; 6-10 s: twice; >10 s: same
)
def test_initdead_default_follows_heartbeat(deadtime: str, initdead: float) -> None:
    config = parse_ha_cf(f"keepalive 1\ndeadtime {deadtime}\nbcast eth0\nnode a\n")
    assert config.initdead == initdead


@pytest.mark.parametrize(("text", "seconds"),
                         [("2", 2.0), ("1.7", 1.7), ("1700ms", 1.7), ("200ms", 0.2), ("3s", 3.0)])
def test_time_values(text: str, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds)


def test_media_udpport_order_and_mcast_bcast() -> None:
    config = parse_ha_cf(
        "bcast eth0 eth1\nudpport 700\nucast eth2 10.0.0.2\n"
        "mcast eth3 239.0.0.1 695 1 0\nnode a b\nautojoin other\ncrm respawn\n"
        "respawn hacluster /usr/lib/foo -x\ncluster_name prod\nstate_dir /run/hac\n")
    ports = [(m.kind, m.interface, m.port) for m in config.media]
    assert ports == [("bcast", "eth0", 694), ("bcast", "eth1", 694), ("ucast", "eth2", 700),
                     ("mcast", "eth3", 695)]
    assert config.media[3].address == "239.0.0.1"
    assert config.udpport == 700 and config.autojoin == "other" and config.crm == "respawn"
    assert config.respawn[0].user == "hacluster"
    assert config.respawn[0].argv == ("/usr/lib/foo", "-x")
    assert (config.cluster_name, config.state_dir) == ("prod", "/run/hac")


def test_realtime_is_on_at_the_lowest_priority_unless_ha_cf_says_otherwise() -> None:
    # Heartbeat's defaults: `realtime on`, SCHED_RR at sched_get_priority_min (1)
    default = parse_ha_cf("bcast e\nnode a\n")
    assert (default.realtime, default.rtprio) == (True, 1)
    chosen = parse_ha_cf("bcast e\nnode a\nrealtime off\nrtprio 5\n")
    assert (chosen.realtime, chosen.rtprio) == (False, 5)
    assert parse_ha_cf("bcast e\nnode a\nrealtime Yes\n").realtime is True
    assert not parse_ha_cf("bcast e\nnode a\nrealtime off\n").legacy


def test_crm_yes_and_pacemaker_alias() -> None:
    assert parse_ha_cf("crm yes\nbcast e\nnode a\n").crm == "on"
    assert parse_ha_cf("pacemaker respawn\nbcast e\nnode a\n").crm == "respawn"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("bcast eth0\nnode a\nkeepalve 2\n", 3, "unknown directive 'keepalve'"),
        ("keepalive two\nbcast eth0\nnode a\n", 1, "not a time"),
        ("bcast eth0\nucast eth0 10.0.0.300\nnode a\n", 2, "not an IPv4"),
        ("bcast eth0\nmcast eth0 10.0.0.1 694 1 0\nnode a\n", 2, "multicast"),
        ("bcast eth0\nmcast eth0 239.1.1.1 694 1\nnode a\n", 2, "mcast takes"),
        ("udpport 99999\nbcast eth0\nnode a\n", 1, "UDP port"),
        ("bcast eth0\nnode a\nautojoin some\n", 3, "autojoin must be one of"),
        ("bcast eth0\nnode a b a\n", 2, "listed twice"),
        ("bcast eth0\nnode a\ncrm maybe\n", 3, "crm must be one of"),
        ("bcast eth0\nnode a\nstate_dir relative/dir\n", 3, "absolute"),
        ("bcast\nnode a\n", 1, "at least one interface"),
        ("bcast e\nnode a\nmax_message 4194304\n", 3, "not a message size"),
        ("bcast e\nnode a\nrealtime sometimes\n", 3, "realtime must be on or off"),
        ("bcast e\nnode a\nrtprio 100\n", 3, "not a SCHED_RR priority"),
        ("bcast e\nnode a\nrtprio 0\n", 3, "not a SCHED_RR priority"),
    ],
)
def test_bad_lines_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ha_cf(text, "/etc/ha.d/ha.cf")
    message = str(caught.value)
    assert message.startswith(f"/etc/ha.d/ha.cf:{line}: "), message
    assert words in message
    assert caught.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("keepalive 2\ndeadtime 4\nbcast e\nnode a\n", "more than twice keepalive"),
        ("deadtime 10\nwarntime 12\nbcast e\nnode a\n", "warntime"),
        ("deadtime 10\ninitdead 5\nbcast e\nnode a\n", "initdead"),
        ("node a b\n", "no communication medium"),
        ("bcast eth0\n", "no node lines"),
    ],
)
def test_inconsistent_settings_are_refused(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_ha_cf(text)


def test_autojoin_any_needs_no_node_lines() -> None:
    assert parse_ha_cf("bcast eth0\nautojoin any\n").nodes == ()


def test_load_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_ha_cf(tmp_path / "nope.cf")
    path = tmp_path / "ha.cf"
    path.write_text("bcast eth0\nnode a\nbogus 1\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3: "):
        load_ha_cf(path)


def test_other_daemons_directives_are_kept_for_them() -> None:
    config = parse_ha_cf("bcast eth0\nnode a b\nexpected_votes 3\nquorum_votes a 2\n")
    assert config.foreign == (("expected_votes", 3, ("3",)), ("quorum_votes", 4, ("a", "2")))


# Issue 8 defect 5: absurd times and names were accepted; each is refused at its line.
@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("keepalive 0.001ms\nbcast e\nnode a\n", 1, "out of bounds"),
        ("keepalive 1e-9\nbcast e\nnode a\n", 1, "not a time"),
        ("keepalive 5ms\nbcast e\nnode a\n", 1, "out of bounds"),
        ("keepalive 0\nbcast e\nnode a\n", 1, "out of bounds"),
        ("deadtime 1e300\nbcast e\nnode a\n", 1, "not a time"),
        ("deadtime 100000000\nbcast e\nnode a\n", 1, "out of bounds"),
        ("deadtime inf\nbcast e\nnode a\n", 1, "not a time"),
        ("deadtime nan\nbcast e\nnode a\n", 1, "not a time"),
        ("deadtime 1_0\nbcast e\nnode a\n", 1, "not a time"),
        ("deadtime \u0663\u0660\nbcast e\nnode a\n", 1, "not a time"),
        ("bcast e\nkeepalive 2\nnode a\ndeadtime 3\n", 4, "more than twice keepalive"),
        ("bcast e\nnode a\ninitdead 5\ndeadtime 10\n", 4, "at least deadtime"),
        ("bcast e\nnode ../../etc/x\n", 2, "not a valid node name"),
        ("bcast e\nnode a\x01b\n", 2, "not a valid node name"),
        ("bcast e\nnode a\x7fb\n", 2, "not a valid node name"),
        ("bcast e\nnode " + "a" * 100000 + "\n", 2, "not a valid node name"),
        ("bcast e\nnode " + "a" * 64 + "\n", 2, "not a valid node name"),
        ("bcast e\nnode " + ".".join(["a" * 63] * 4) + "\n", 2, "not a valid node name"),
        ("bcast e\nnode -a\n", 2, "not a valid node name"),
        ("bcast e\nnode a..b\n", 2, "not a valid node name"),
        ("udpport \u0666\u0669\u0664\nbcast e\nnode a\n", 1, "not a UDP port"),
        ("bcast ../e\nnode a\n", 1, "not a network interface"),
        ("bcast e\nnode a\nlogfile rel/path\n", 3, "absolute path"),
        ("bcast e\nnode a\nmax_message \u00b9\u2070\u2070\u2070\u2070\n", 3, "not a message"),
    ],
)
def test_absurd_values_are_refused_at_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ha_cf(text, "ha.cf")
    assert str(caught.value).startswith(f"ha.cf:{line}: "), str(caught.value)[:200]
    assert words in str(caught.value)
    assert len(str(caught.value)) < 400


def test_sane_extremes_and_host_names_are_accepted() -> None:
    config = parse_ha_cf("keepalive 10ms\ndeadtime 30ms\nwarntime 20ms\ninitdead 1\n"
                         "bcast eth0.100\nnode n1 db-2.example.com node_3 "
                         + ".".join(["a" * 63] * 3) + "\n")
    assert (config.keepalive, config.deadtime) == (0.01, 0.03)
    assert config.nodes[1] == "db-2.example.com"
    assert parse_ha_cf("deadtime 86400\nbcast e\nnode a\n").deadtime == 86400.0
    assert parse_ha_cf("keepalive .5\nbcast e\nnode a\n").keepalive == 0.5


def test_ucast_peer_may_be_a_host_name_resolved_at_start() -> None:
    from messaging.config import resolve_ucast

    text = "keepalive 1\ndeadtime 5\nucast eth0 n2\nucast eth0 10.0.0.3\nnode n1 n2 n3\n"
    config = parse_ha_cf(text, "ha.cf")
    assert [m.address for m in config.media] == ["n2", "10.0.0.3"]
    hosts = {"n2": "10.0.0.2"}
    resolved = resolve_ucast(config, hosts.__getitem__)
    assert [m.address for m in resolved.media] == ["10.0.0.2", "10.0.0.3"]
    assert resolved.media_for(["10.0.0.2"])[0].address == "10.0.0.3"


def test_unresolvable_ucast_host_name_names_the_line() -> None:
    from messaging.config import resolve_ucast

    def nowhere(name: str) -> str:
        raise OSError(f"{name}: Name or service not known")

    config = parse_ha_cf("ucast eth0 10.0.0.1\nucast eth0 ghost\nnode a\n", "ha.cf")
    with pytest.raises(ConfigError, match="ghost") as caught:
        resolve_ucast(config, nowhere)
    assert caught.value.location is not None and caught.value.location.line == 2


@pytest.mark.parametrize("peer", ["10.0.2", "bad_host!", "-n2"])
def test_ucast_peer_that_is_neither_address_nor_host_name_is_refused(peer: str) -> None:
    with pytest.raises(ConfigError, match=r"ha\.cf:1: ucast: .*peer address"):
        parse_ha_cf(f"ucast eth0 {peer}\nnode a\n", "ha.cf")


def test_the_system_resolver_gives_heartbeat_an_ipv4_address() -> None:
    from messaging.heartbeat.netio import resolve_ipv4

    assert resolve_ipv4("localhost").startswith("127.")
    with pytest.raises(OSError):
        resolve_ipv4("no-such-host.invalid")
