"""The Docker lab's power switch: lab.pdu's line protocol, switching containers.

A container cannot stop another one from inside, any more than a lab node can, so the
Docker lab has what the namespace lab has: an out-of-band power switch. docker-compose.yml
runs `python -m lab.docker_pdu SOCKET` in a service of its own, with the Docker engine's
socket mounted, listening on /run/hacluster-pdu/pdu.sock in a volume that every node also
mounts at /run/hacluster-pdu: fence_lab in a node finds the switch at its default
`pdu_socket`, exactly as in the namespace lab, so the demo configuration is the same file.
(Unix sockets work across containers through a shared volume: one kernel.)

A node is the container labelled ``hacluster.node=<name>`` in the switch's own compose
project (label com.docker.compose.project of the switch's container, which Docker names
by the container's hostname). Through the Engine API: off = kill (SIGKILL, a power cut;
Docker then leaves the container down whatever its restart policy), answered only once
the engine reports it stopped; on = start; status = the engine's State.Running.

Mounting the engine's socket gives this one container control of the Docker host: fine
for a demo lab on one's own machine, never for production (a real cluster fences through
its real power switch or IPMI).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from messaging.errors import HAError, NotFoundError, PeerTimeout, PeerUnreachable

from .pdu import serve_at

ENGINE_SOCKET = "/var/run/docker.sock"
NODE_LABEL = "hacluster.node"
PROJECT_LABEL = "com.docker.compose.project"
GONE_TIMEOUT = 10.0
Request = Callable[[str, str], tuple[int, Any]]  # (method, path) -> (status, JSON or None)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def engine(path: str = ENGINE_SOCKET, timeout: float = 30.0) -> Request:
    """A `Request` to the Docker Engine API on the unix socket `path`."""

    def request(method: str, target: str) -> tuple[int, Any]:
        connection = _UnixConnection(path, timeout)
        try:
            connection.request(method, target, body=b"" if method == "POST" else None)
            response = connection.getresponse()
            data = response.read()
        except OSError as error:
            raise PeerUnreachable(f"Docker engine at {path}: {error.strerror or error}",
                                  ) from None
        finally:
            connection.close()
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(data) if data and is_json else None

    return request


def _check(status: int, body: Any, allowed: tuple[int, ...], what: str) -> None:
    if status not in allowed:
        message = body.get("message") if isinstance(body, dict) else None
        raise HAError(f"Docker engine: {what}: HTTP {status} {message or ''}".rstrip())


class DockerPower:
    """The lab's containers as power plugs (a `lab.pdu.Power`)."""

    def __init__(self, request: Request, project: str | None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.request = request
        self.project = project
        self.sleep = sleep
        self.clock = clock

    def _containers(self) -> dict[str, str]:
        """Node name -> container id, for every node container of the project."""
        labels = [NODE_LABEL] + ([f"{PROJECT_LABEL}={self.project}"] if self.project else [])
        filters = quote(json.dumps({"label": labels}))
        status, body = self.request("GET", f"/containers/json?all=1&filters={filters}")
        _check(status, body, (200,), "list containers")
        found: dict[str, str] = {}
        for container in body or []:
            node = str(container["Labels"][NODE_LABEL])
            if node in found:  # never guess which machine to switch off
                raise HAError(f"2 containers are labelled {NODE_LABEL}={node} "
                              f"(compose project: {self.project or 'unknown'})")
            found[node] = str(container["Id"])
        return dict(sorted(found.items()))

    def _id(self, node: str) -> str:
        containers = self._containers()
        if node not in containers:
            raise NotFoundError(f"no container labelled {NODE_LABEL}={node}")
        return containers[node]

    def _running(self, container: str) -> bool:
        status, body = self.request("GET", f"/containers/{container}/json")
        _check(status, body, (200,), f"inspect {container[:12]}")
        return bool(body["State"]["Running"])

    def nodes(self) -> list[str]:
        return list(self._containers())

    def is_on(self, node: str) -> bool:
        return self._running(self._id(node))

    def off(self, node: str) -> None:
        container = self._id(node)
        status, body = self.request("POST", f"/containers/{container}/kill")
        _check(status, body, (204, 409), f"kill {node}")  # 409: it was not running
        deadline = self.clock() + GONE_TIMEOUT
        while self._running(container):
            if self.clock() > deadline:
                raise PeerTimeout(f"{node} still runs {GONE_TIMEOUT:g}s after the power cut")
            self.sleep(0.05)

    def on(self, node: str) -> None:
        status, body = self.request("POST", f"/containers/{self._id(node)}/start")
        _check(status, body, (204, 304), f"start {node}")  # 304: it already ran


def own_project(request: Request) -> str | None:
    """The compose project of the container this runs in (None outside one)."""
    with contextlib.suppress(HAError, KeyError, TypeError):
        status, body = request("GET", f"/containers/{socket.gethostname()}/json")
        if status == 200:
            project = body["Config"]["Labels"].get(PROJECT_LABEL)
            return str(project) if project else None
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m lab.docker_pdu SOCKET", file=sys.stderr)
        return 64
    request = engine(os.environ.get("DOCKER_SOCKET", ENGINE_SOCKET))
    serve_at(Path(argv[0]), DockerPower(request, own_project(request)))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
