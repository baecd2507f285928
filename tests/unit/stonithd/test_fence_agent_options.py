"""agents.fence._fencing: the fence-agents stdin and getopt conventions, metadata shape."""

from __future__ import annotations

import io

from lxml import etree

from agents.fence import fence_hacluster_dummy, fence_lab
from agents.fence._fencing import parse_argv, parse_stdin, run_agent

SPEC = fence_hacluster_dummy.SPEC


def test_stdin_rules() -> None:
    err = io.StringIO()
    text = ('# comment\n\n  action = off \nport=n1\nstate-file="/tmp/x y"\nport=n2\n'
            "nodename=n9\nmystery=1\nnot a pair\n")
    options = parse_stdin(text, SPEC, err)
    assert options.action == "off" and options.plug == "n2"  # last occurrence wins
    assert options.get("state_file") == "/tmp/x y"  # '-' == '_', quotes stripped
    assert "mystery" in err.getvalue() and "no '='" in err.getvalue()
    assert "nodename" not in err.getvalue()


def test_nodename_alone_names_the_plug_and_option_is_an_alias_of_action() -> None:
    options = parse_stdin("option=meta-data\nnodename=n4\n", SPEC, io.StringIO())
    assert options.action == "metadata" and options.plug == "n4"


def test_getopt_style() -> None:
    options = parse_argv(["-o", "status", "--port", "n3", "--state-file=/s", "-v"], SPEC)
    assert (options.action, options.plug, options.get("state_file")) == ("status", "n3", "/s")
    assert options.flag("verbose")


def test_metadata_lists_every_parameter_once() -> None:
    for spec in (SPEC, fence_lab.SPEC):
        out = io.StringIO()
        assert run_agent(spec, ["-o", "metadata"], io.StringIO(), out, io.StringIO()) == 0
        root = etree.fromstring(out.getvalue().encode())
        names = [p.get("name") for p in root.iterfind("parameters/parameter")]
        assert len(names) == len(set(names)) and {"action", "plug"} <= set(names)
        assert root.get("name") == spec.name


def test_bad_numbers_fail_with_a_clear_line() -> None:
    err = io.StringIO()
    rc = run_agent(SPEC, [], io.StringIO("action=off\nport=n1\ndelay=soon\n"), io.StringIO(),
                   err)
    assert rc == 1
    assert err.getvalue() == "Failed: parameter delay='soon' is not a number of seconds\n"


def test_fence_lab_reads_the_lab_status_shapes() -> None:
    # the shape `hacluster lab status --json` documents (lab/cli.py on the membership branch)
    real = {"lab": "lab", "backend": "netns", "partition": [], "loss": {},
            "nodes": {"n1": {"namespace": "ns1", "pid": 41, "running": True,
                             "daemons": {"heartbeat": {"pid": 42, "running": True},
                                         "ccm": {"pid": None, "running": False}}},
                      "n2": {"pid": None, "running": False, "daemons": {}}}}
    entries = fence_lab._node_entries(real)
    assert sorted(entries) == ["n1", "n2"]
    assert fence_lab.node_pids(entries["n1"]) == [41, 42]
    assert fence_lab.node_pids(entries["n2"]) == []
    listed = fence_lab._node_entries({"nodes": [{"name": "a", "running": False, "pids": [7]}]})
    assert fence_lab.node_pids(listed["a"]) == [7]
    assert sorted(fence_lab._node_entries({"x": {"running": True}, "note": "text"})) == ["x"]
