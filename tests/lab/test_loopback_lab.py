"""The lab without namespaces (`lab up --loopback`, what non-root users get): real daemons
on 127.K.60.x agree, a killed node leaves the view, namespace-only faults are refused."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from lab_names import lab_name

from ccm.api import CcmClient
from lab.cli import lab
from lab.layout import loopback_octet
from messaging.errors import HAError

LOOP_LAB = lab_name("hcloop")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(lab, ["--name", LOOP_LAB, *args], catch_exceptions=False)
    return result.exit_code, result.output


def members(state_dir: str) -> tuple[str, ...]:
    try:
        return CcmClient(state_dir).query(timeout=1.0).members
    except HAError:
        return ()


def test_loopback_lab_lifecycle() -> None:
    cli("down")
    code, out = cli("up", "--loopback", "--nodes", "3", "--wait", "30")
    try:
        assert code == 0, out
        status = json.loads(cli("status", "--json")[1])
        assert status["backend"] == "loopback"
        assert status["nodes"]["n2"]["address"] == f"127.{loopback_octet(LOOP_LAB)}.60.12"
        assert cli("kill", "n3")[0] == 0
        dirs = {n: info["state_dir"] for n, info in status["nodes"].items()}
        deadline = time.monotonic() + 10
        while members(dirs["n1"]) != ("n1", "n2") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert members(dirs["n1"]) == ("n1", "n2")
        assert not json.loads(cli("status", "--json")[1])["nodes"]["n3"]["running"]
        code, out = cli("partition", "n1", "n2,n3")
        assert code == 64 and "needs network namespaces" in out
    finally:
        assert cli("down")[0] == 0
    code, out = cli("status")
    assert code == 64 and "not up" in out
