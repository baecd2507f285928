"""ccm's ha.cf quorum directives, API wire form and the `hacluster membership` rendering."""

from __future__ import annotations

import json

import msgpack
import pytest
from click.testing import CliRunner

from ccm.api import (
    API,
    MembershipChanged,
    MembershipStatus,
    NodeInfo,
    QueryMembership,
)
from ccm.cli import membership, render
from ccm.config import parse
from messaging.envelope import Kind, decode, encode
from messaging.errors import ConfigError, RemoteProtocolError

BASE = "keepalive 1\ndeadtime 5\nucast eth0 10.0.0.1\nnode a b c\n"


def test_quorum_directives_are_read_from_ha_cf() -> None:
    text = BASE + (
        "expected_votes 5\nquorum_votes b 3\nwait_for_all on\nlast_man_standing yes\n"
        "last_man_standing_window 1500ms\nauto_tie_breaker 1\nauto_tie_breaker_node c a\n"
    )
    config = parse(text)
    quorum = config.quorum
    assert config.ha.nodes == ("a", "b", "c")
    assert quorum.expected_votes == 5 and quorum.votes_of("b") == 3 and quorum.votes_of("a") == 1
    assert quorum.wait_for_all is True and quorum.last_man_standing
    assert quorum.last_man_standing_window == 1.5
    assert quorum.auto_tie_breaker and quorum.auto_tie_breaker_node == ("c", "a")


def test_defaults_without_quorum_directives() -> None:
    quorum = parse(BASE).quorum
    assert quorum.configured_expected() == 3 and not quorum.wait_for_all_active()


@pytest.mark.parametrize(
    "line, where",
    [
        ("expected_votes zero", "ha.cf:5"),
        ("two_node maybe", "ha.cf:5"),
        ("quorum_votes a", "ha.cf:5"),
        ("last_man_standing_window soon", "ha.cf:5"),
        ("wait_for_all on off", "ha.cf:5"),
        ("quorum_votes zz 2", "ha.cf"),
        ("auto_tie_breaker_node", "ha.cf:5"),
    ],
)
def test_bad_quorum_directives_name_file_and_line(line: str, where: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(BASE + line + "\n")
    assert str(error.value).startswith(where)


def test_heartbeat_errors_keep_their_line_numbers() -> None:
    with pytest.raises(ConfigError) as error:
        parse("two_node on\nbogus_directive 1\n" + BASE)
    assert str(error.value).startswith("ha.cf:2")


STATUS = MembershipStatus(
    node="a", view_id=7, members=("a", "b"), coordinator="a", quorate=True,
    expected_votes=3, total_votes=2, quorum=2,
    nodes=(NodeInfo("a", "up", (("eth0", "up"),)),
           NodeInfo("b", "up", (("eth0", "up"), ("eth1", "dead"))),
           NodeInfo("c", "dead", (("eth0", "dead"), ("eth1", "dead")))),
)


@pytest.mark.parametrize(
    "message",
    [STATUS, QueryMembership(), MembershipChanged(3, ("a", "b"), "a", False, 5, 2, 3)],
)
def test_api_round_trip(message: object) -> None:
    assert decode(API, encode(API, Kind.EVENT, 0, message)).message == message


@pytest.mark.parametrize(
    "data",
    [b"\xc1", msgpack.packb({"v": 1, "t": "query", "b": {}}),  # the old ccm format
     msgpack.packb([9, "request", 1, "query_membership", []]),
     msgpack.packb([1, "request", 1, "nope", []]),
     msgpack.packb([1, "event", 0, "membership_changed", [1]]), msgpack.packb([1, 2])],
)
def test_api_rejects_garbage(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode(API, data)


def test_json_shape_is_the_documented_one() -> None:
    shape = STATUS.to_json()
    assert set(shape) == {"node", "view_id", "members", "coordinator", "quorate",
                          "expected_votes", "total_votes", "quorum", "nodes"}
    assert shape["nodes"]["b"] == {"state": "up", "links": {"eth0": "up", "eth1": "dead"}}
    json.dumps(shape)


def test_render_lists_links_and_membership() -> None:
    text = render(STATUS)
    assert "View id:         7 (coordinator a)" in text
    assert "Quorate:         yes" in text
    row = next(line for line in text.splitlines() if line.startswith("b "))
    assert row.split() == ["b", "up", "yes", "eth0:up", "eth1:dead"]
    row = next(line for line in text.splitlines() if line.startswith("c "))
    assert row.split()[1:3] == ["dead", "no"]


def test_cli_without_ccm_says_so_and_exits_disconnect(tmp_path: object) -> None:
    result = CliRunner().invoke(membership, ["--state-dir", str(tmp_path), "--json"])
    assert result.exit_code == 102
    assert "ccm is not running" in result.output
