"""The subprocess shell of the lrmd: runs one agent call and says how it ended.

Each call runs in a new session (so its process group id is its pid and a timeout can kill
the agent together with everything it forked), with stdin from /dev/null and a clean
environment (`lrmd.agents.agent_environment`). stdout and stderr are read
concurrently (`lrmd.spawn`); at most `output_limit` bytes of each are kept, the rest is
drained and dropped, and undecodable bytes are replaced, so an agent printing garbage cannot
hurt the daemon. Output still held open by a stray child after the agent exits is waited for
only briefly.

Outcomes are values: a missing agent is rc 5 with `OpStatus.NOT_INSTALLED`, an agent killed
by a signal is rc 1 with `OpStatus.ERROR` (the core turns a timeout kill into TIMEOUT), a
``stonith:`` call with no stonithd listening is `OpStatus.NOT_CONNECTED`.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lrmd.agents import (
    agent_environment,
    exit_reason,
    is_lsb,
    locate,
    lsb_action,
    lsb_dir,
    lsb_metadata,
    lsb_status_to_ocf,
    ocf_roots,
)
from lrmd.messages import ExecRequest
from lrmd.spawn import spawn
from messaging.errors import HAError, PeerTimeout
from messaging.handoff import HANDOFF, STONITHD_SOCKET, StonithExecRequest, StonithExecResult
from messaging.types import OcfRc, OpStatus

OUTPUT_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class RunOutcome:
    rc: int
    status: OpStatus = OpStatus.DONE
    exit_reason: str = ""
    output: str = ""


class AgentRunner(Protocol):
    """What the executor needs from whatever runs agents (processes, or `FakeAgentRunner`)."""

    async def run(
        self, call_id: int, request: ExecRequest, params: dict[str, str]
    ) -> RunOutcome: ...

    def kill(self, call_id: int, signum: int) -> bool: ...

    def running_calls(self) -> list[int]: ...


class SubprocessRunner:
    """Runs agents as child processes; `kill` signals a running call's process group."""

    def __init__(
        self,
        *,
        roots: list[Path] | None = None,
        lsb: Path | None = None,
        output_limit: int = OUTPUT_LIMIT,
        state_dir: Path | None = None,
    ) -> None:
        self.roots = roots if roots is not None else ocf_roots()
        self.lsb = lsb if lsb is not None else lsb_dir()
        self.output_limit = output_limit
        self.state_dir = state_dir
        self._groups: dict[int, int] = {}
        self._fencing_started: set[str] = set()  # stonith resources this executor started

    def running_calls(self) -> list[int]:
        return list(self._groups)

    def kill(self, call_id: int, signum: int) -> bool:
        """Signal the whole process group of `call_id`; False if it is not running."""
        pgid = self._groups.get(call_id)
        if pgid is None:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)
        return True

    async def run(self, call_id: int, request: ExecRequest, params: dict[str, str]) -> RunOutcome:
        """Run one call to the end and return how it went (never raises for agent trouble)."""
        agent = request.agent
        if agent.standard == "stonith":
            return await self._fencing_device(call_id, request, params)
        found = locate(agent, self.roots, self.lsb)
        if found is None:
            return RunOutcome(
                int(OcfRc.ERR_INSTALLED), OpStatus.NOT_INSTALLED, f"{agent} is not installed"
            )
        path, root = found
        if is_lsb(agent) and request.action == "meta-data":
            return RunOutcome(0, output=lsb_metadata(agent, path))
        action = lsb_action(request.action) if is_lsb(agent) else request.action
        env = agent_environment(agent, request.resource, params, root)
        argv = [str(path), action] if os.access(path, os.X_OK) else ["/bin/sh", str(path), action]
        outcome = await self._spawn(call_id, argv, env)
        if is_lsb(agent) and action == "status" and outcome.status is OpStatus.DONE:
            outcome = RunOutcome(lsb_status_to_ocf(outcome.rc), output=outcome.output)
        return outcome

    async def _spawn(self, call_id: int, argv: list[str], env: dict[str, str]) -> RunOutcome:
        def started(pid: int) -> None:
            self._groups[call_id] = pid  # the child leads its own session and process group

        try:
            rc, out, err = await spawn(argv, env, limit=self.output_limit, started=started)
        except FileNotFoundError:
            return RunOutcome(int(OcfRc.ERR_INSTALLED), OpStatus.NOT_INSTALLED, f"{argv[0]}: gone")
        except PermissionError:
            return RunOutcome(int(OcfRc.ERR_PERM), OpStatus.ERROR, f"{argv[0]}: not executable")
        except OSError as error:
            return RunOutcome(int(OcfRc.ERR_GENERIC), OpStatus.ERROR, f"{argv[0]}: {error}")
        finally:
            pgid = self._groups.pop(call_id, None)
        stdout = out.decode("utf-8", errors="replace")
        stderr = err.decode("utf-8", errors="replace")
        if rc < 0:
            if pgid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)  # sweep what the agent left behind
            name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else -rc
            return RunOutcome(int(OcfRc.ERR_GENERIC), OpStatus.ERROR, f"killed by {name}", stdout)
        return RunOutcome(rc, OpStatus.DONE, exit_reason(stderr), stdout)

    async def _fencing_device(
        self, call_id: int, request: ExecRequest, params: dict[str, str]
    ) -> RunOutcome:
        """A stonith resource is "running" only where this executor started it: a probe
        elsewhere says not running without asking the fencer (every fencer knows every
        device from the CIB, so its monitor would answer running on every node), as
        Pacemaker's executor answers probes of fencing resources from its own record."""
        name = request.resource
        if request.action == "monitor" and request.interval_ms == 0 \
                and name not in self._fencing_started:
            return RunOutcome(int(OcfRc.NOT_RUNNING), OpStatus.DONE)
        outcome = await self._stonith(call_id, request, params)
        if request.action == "start" and outcome.status is OpStatus.DONE and outcome.rc == 0:
            self._fencing_started.add(name)
        elif request.action == "stop":
            self._fencing_started.discard(name)
        return outcome

    async def _stonith(
        self, call_id: int, request: ExecRequest, params: dict[str, str]
    ) -> RunOutcome:
        """Hand a stonith-class call to stonithd, or say clearly that none is running."""
        from messaging.client import AsyncClient  # only stonith-class calls need a client

        socket_path = (self.state_dir / STONITHD_SOCKET) if self.state_dir else None
        if socket_path is None or not socket_path.exists():
            return RunOutcome(
                int(OcfRc.ERR_GENERIC), OpStatus.NOT_CONNECTED, "stonithd is not running"
            )
        message = StonithExecRequest(
            call_id, request.resource, request.agent.type, request.action, params,
            request.timeout_ms,
        )
        client = AsyncClient(f"ipc://{socket_path}", HANDOFF, timeout=request.timeout_ms / 1000)
        try:
            reply = await client.request(message)
        except PeerTimeout:
            return RunOutcome(
                int(OcfRc.ERR_GENERIC), OpStatus.NOT_CONNECTED, "stonithd did not answer"
            )
        except HAError as error:  # any refusal or wire trouble is a result, not a crash
            return RunOutcome(int(OcfRc.ERR_GENERIC), OpStatus.ERROR, f"stonithd: {error}")
        finally:
            client.close()
        if isinstance(reply, StonithExecResult):
            return RunOutcome(reply.rc, OpStatus(reply.status), reply.exit_reason, reply.output)
        return RunOutcome(int(OcfRc.ERR_GENERIC), OpStatus.ERROR, "stonithd: unexpected reply")
