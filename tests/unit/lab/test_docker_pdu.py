"""The Docker lab's power switch against a stand-in for the Docker Engine API on a real unix
socket (no Docker engine on these machines): the requests it makes, the states it waits
for, and fence_lab in a node fencing through it with the protocol of the namespace lab.

The stand-in answers the few Engine API calls the switch uses the way Docker documents
them (GET /containers/json with label filters, GET /containers/ID/json, POST kill and
start with 204, 409 and 304); that the real engine agrees is checked only where Docker runs.
"""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lab.docker_pdu import DockerPower, engine
from lab.pdu import Switch

REPO = Path(__file__).resolve().parents[3]


class FakeEngine:
    """Containers of two compose projects; a killed one stops after two more inspections."""

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, Any]] = {}
        for project in ("demo", "other"):
            for index in (1, 2, 3):
                cid = f"{project}{index}" + "0" * 58
                self.containers[cid] = {"running": True, "stopping": 0, "stuck": False, "labels": {
                    "hacluster.node": f"n{index}", "com.docker.compose.project": project}}
        self.log: list[str] = []

    def handle(self, method: str, target: str) -> tuple[int, Any]:
        url = urlsplit(target)
        self.log.append(f"{method} {url.path}")
        parts = url.path.strip("/").split("/")
        if method == "GET" and url.path == "/containers/json":
            wanted = json.loads(parse_qs(url.query)["filters"][0])["label"]
            return 200, [{"Id": cid, "Labels": c["labels"]}
                         for cid, c in self.containers.items() if _matches(c, wanted)]
        container = self.containers.get(parts[1]) if len(parts) == 3 else None
        if container is None:
            return 404, {"message": f"No such container: {parts[1] if len(parts) > 1 else ''}"}
        if method == "GET" and parts[2] == "json":
            if container["stopping"]:
                container["stopping"] -= 1
                container["running"] = container["stopping"] > 0
            return 200, {"State": {"Running": container["running"]}}
        if method == "POST" and parts[2] == "kill":
            if not container["running"]:
                return 409, {"message": "container is not running"}
            container["stopping"] = 0 if container["stuck"] else 2
            return 204, None
        if method == "POST" and parts[2] == "start":
            if container["running"]:
                return 304, None
            container["running"] = True
            return 204, None
        return 400, {"message": "unexpected request"}


def _matches(container: dict[str, Any], wanted: list[str]) -> bool:
    labels = container["labels"]
    for item in wanted:
        key, _, value = item.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


@pytest.fixture
def docker(tmp_path: Path) -> Iterator[tuple[FakeEngine, str]]:
    fake = FakeEngine()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            status, body = fake.handle(self.command, self.path)
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def address_string(self) -> str:
            return "unix"

        def log_message(self, *args: object) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    path = str(tmp_path / "docker.sock")
    server = Server(path, Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake, path
    finally:
        server.shutdown()
        server.server_close()


def test_switch_powers_containers_of_its_own_project_only(
        docker: tuple[FakeEngine, str]) -> None:
    fake, path = docker
    switch = Switch(DockerPower(engine(path), "demo", sleep=lambda _s: None))
    assert switch.answer("list") == "ok n1 n2 n3"
    assert switch.answer("off n2") == "ok off"
    assert fake.containers["demo2" + "0" * 58]["running"] is False
    assert fake.containers["other2" + "0" * 58]["running"] is True
    assert fake.log.count("GET /containers/demo2" + "0" * 58 + "/json") == 2  # waited
    assert switch.answer("status n2") == "ok off"
    assert switch.answer("off n2") == "ok off"  # 409: already off is success
    assert switch.answer("on n2") == "ok on"
    assert switch.answer("on n2") == "ok on"  # 304: already on is success
    assert switch.answer("reboot n3") == "ok on"
    assert switch.answer("off n7") == "error no node 'n7' (n1, n2, n3)"


def test_a_container_that_will_not_stop_times_out(docker: tuple[FakeEngine, str]) -> None:
    fake, path = docker
    fake.containers["demo1" + "0" * 58]["stuck"] = True
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    power = DockerPower(engine(path), "demo", sleep=sleep, clock=lambda: now[0])
    answer = Switch(power).answer("off n1")
    assert answer.startswith("error n1 still runs 10s after the power cut"), answer


def test_without_a_project_two_labs_are_ambiguous(docker: tuple[FakeEngine, str]) -> None:
    _fake, path = docker
    switch = Switch(DockerPower(engine(path), None))
    assert switch.answer("off n1").startswith("error 2 containers are labelled "
                                              "hacluster.node=n1")


def test_an_engine_that_is_not_there_is_an_error_answer(tmp_path: Path) -> None:
    switch = Switch(DockerPower(engine(str(tmp_path / "absent.sock")), "demo"))
    assert switch.answer("list").startswith("error Docker engine at ")


def test_fence_lab_fences_through_the_docker_switch(docker: tuple[FakeEngine, str],
                                                     tmp_path: Path) -> None:
    fake, engine_path = docker
    for index in (1, 2, 3):  # outside compose the switch knows no project: one lab only
        del fake.containers[f"other{index}" + "0" * 58]
    pdu_socket = tmp_path / "pdu" / "pdu.sock"
    env = {**os.environ, "DOCKER_SOCKET": engine_path,
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    switch = subprocess.Popen([sys.executable, "-m", "lab.docker_pdu", str(pdu_socket)],
                              env=env, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not pdu_socket.exists():
            assert switch.poll() is None and time.monotonic() < deadline, "switch did not start"
            time.sleep(0.02)
        agent = [sys.executable, "-m", "agents.fence.fence_lab"]
        stdin = f"action=off\nport=n3\npdu_socket={pdu_socket}\n"
        done = subprocess.run(agent, input=stdin, capture_output=True, text=True, env=env,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert not fake.containers["demo3" + "0" * 58]["running"]
        status = subprocess.run(agent, input=stdin.replace("off", "status"),
                                capture_output=True, text=True, env=env, timeout=60,
                                check=False)
        assert status.returncode == 2, status.stdout + status.stderr  # 2: off
    finally:
        switch.terminate()
        switch.wait(10)
