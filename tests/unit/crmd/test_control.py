"""crmd's control socket seen by its tools: `crmadmin -D/-S` print Pacemaker's lines and
`hacluster crm status --json` the controller's answer; no controller is exit 102 with a
message, as Pacemaker's crmadmin without a cluster.

The controller here is a real `messaging.ipc.Server` on crmd's protocol answering with a
fixed status (the daemon's own answer is exercised in tests/lab/test_crmd_lab.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crmd.control import API, ControllerStatus, StatusRequest, ctl_address, query_status
from crmd.control_cli import crm, crmadmin
from messaging.errors import PeerTimeout
from messaging.ipc import Server

STATUS = ControllerStatus("n2", "S_NOT_DC", "n1", ("n1", "n2", "n3"), True, "", 0,
                          (0, 4, 12), 1700000000.0)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Path]:
    """A control socket in `tmp_path` answering STATUS, served from a thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def answer(request: Any, client: Any) -> ControllerStatus:
        assert isinstance(request, StatusRequest)
        if request.node == "n3":  # as crmd relays -S of another node: that node's answer
            return dataclasses.replace(STATUS, node="n3", state="S_IDLE", dc="n3")
        if request.node not in ("", "n2"):
            raise PeerTimeout("No reply received from controller before timeout (1500ms)")
        return STATUS

    server = Server(ctl_address(tmp_path), API, answer, daemon="crmd")

    def run() -> None:
        asyncio.set_event_loop(loop)
        server.bind()
        ready.set()
        task = loop.create_task(server.serve())
        loop.run_forever()
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield tmp_path
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_status_travels_whole(controller: Path) -> None:
    assert query_status(controller) == STATUS


def test_crmadmin_prints_pacemakers_lines(controller: Path) -> None:
    dc = CliRunner().invoke(crmadmin, ["-D", "--state-dir", str(controller)])
    assert (dc.exit_code, dc.output) == (0, "Designated Controller is: n1\n")
    state = CliRunner().invoke(crmadmin, ["-S", "n2", "--state-dir", str(controller)])
    assert (state.exit_code, state.output) == (0, "Controller on n2 in state S_NOT_DC: ok\n")
    other = CliRunner().invoke(crmadmin, ["-S", "n3", "--state-dir", str(controller)])
    assert (other.exit_code, other.output) == (0, "Controller on n3 in state S_IDLE: ok\n")


def test_crmadmin_of_a_silent_node_times_out_with_pacemakers_message(
        controller: Path) -> None:
    silent = CliRunner().invoke(crmadmin, ["-S", "n9", "--state-dir", str(controller)])
    assert silent.exit_code == 124  # CRM_EX_TIMEOUT, as Pacemaker's crmadmin
    assert "No reply received from controller before timeout" in silent.output


def test_crm_status_json(controller: Path) -> None:
    result = CliRunner().invoke(crm, ["status", "--json", "--state-dir", str(controller)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["node"], shown["dc"], shown["state"], shown["members"]) == (
        "n2", "n1", "S_NOT_DC", ["n1", "n2", "n3"])


def test_no_controller_is_a_disconnect(tmp_path: Path) -> None:
    result = CliRunner().invoke(crmadmin, ["-D", "--state-dir", str(tmp_path)])
    assert result.exit_code == 102  # CRM_EX_DISCONNECT
    assert "crmd is not running" in result.output
