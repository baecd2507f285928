"""Agent lookup across OCF roots, the environment table, exit reasons and LSB mapping."""

from __future__ import annotations

from pathlib import Path

from lrmd.agents import (
    agent_environment,
    exit_reason,
    list_agents,
    locate,
    lsb_status_to_ocf,
    ocf_roots,
    own_ocf_root,
)
from lrmd.messages import AgentSpec


def _agent(root: Path, provider: str, name: str, mode: int = 0o755) -> Path:
    path = root / "resource.d" / provider / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def test_roots_order_override_system_own() -> None:
    roots = ocf_roots({"HACLUSTER_OCF_ROOTS": "/a:/b"})
    assert roots[:3] == [Path("/a"), Path("/b"), Path("/usr/lib/ocf")]
    assert roots[-1] == own_ocf_root()
    assert (own_ocf_root() / "resource.d" / "hacluster" / "Dummy").is_file()


def test_first_root_wins_and_bad_names_are_not_found(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    expected = _agent(first, "p", "A")
    _agent(second, "p", "A")
    _agent(second, "p", "B", mode=0o644)  # not executable: not an agent
    lsb = tmp_path / "init.d"
    assert locate(AgentSpec("ocf", "A", "p"), [first, second], lsb) == (expected, first)
    assert locate(AgentSpec("ocf", "B", "p"), [first, second], lsb) is None
    assert locate(AgentSpec("ocf", "../A", "p"), [first, second], lsb) is None
    names = [str(a) for a in list_agents([first, second], lsb)]
    assert names == ["ocf:p:A"]


def test_environment_table() -> None:
    env = agent_environment(
        AgentSpec("ocf", "Dummy", "heartbeat"),
        "db",
        {"state": "/x", "CRM_meta_timeout": "20000", "OCF_CHECK_LEVEL": "20", "bad name": "v"},
        Path("/usr/lib/ocf"),
    )
    assert env["OCF_RESKEY_state"] == "/x"
    assert env["OCF_RESKEY_CRM_meta_timeout"] == "20000"
    assert env["OCF_CHECK_LEVEL"] == "20"
    assert not any("bad" in key for key in env)
    assert env["OCF_ROOT"] == "/usr/lib/ocf" and env["OCF_RESOURCE_INSTANCE"] == "db"


def test_exit_reason_takes_the_last_prefixed_line() -> None:
    text = "noise\nocf-exit-reason:first\nmore\nocf-exit-reason: second \n"
    assert exit_reason(text) == "second"
    assert exit_reason("no reason here") == ""


def test_lsb_status_mapping() -> None:
    assert [lsb_status_to_ocf(rc) for rc in (0, 1, 2, 3, 4, 150, 151, 42)] == [
        0,
        7,
        7,
        7,
        1,
        5,
        4,
        1,
    ]


def test_names_that_leave_the_agents_directory_are_not_installed(tmp_path: Path) -> None:
    """Issue 8 defect 3: `ocf:..:__init__.py` ran agents/ocf/__init__.py through /bin/sh."""
    lsb = tmp_path / "init.d"
    lsb.mkdir()
    (tmp_path / "outside").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "outside").chmod(0o755)
    _agent(tmp_path / "root", "p", "A")
    roots = [tmp_path / "root", own_ocf_root()]
    assert (own_ocf_root() / "__init__.py").is_file()  # the file the defect reached
    for provider, name in [("..", "__init__.py"), ("..", "ocf/__init__.py"), ("p", ".."),
                           (".", "A"), ("p/../p", "A"), ("", "A"), ("p", ""),
                           ("p", "A\0"), ("p", "A\n"), ("..", "..")]:
        assert locate(AgentSpec("ocf", name, provider), roots, lsb) is None, (provider, name)
    for name in ["../outside", "..", ".", "", "x/../../outside"]:
        assert locate(AgentSpec("lsb", name), roots, lsb) is None, name
    assert locate(AgentSpec("ocf", "A", "p"), roots, lsb) is not None
