"""An in-memory `AgentRunner` for simulations and tests: agents without processes.

Every resource behaves like a promotable Dummy kept in a dict: start -> Started, stop ->
Stopped, promote/demote switch roles, monitor answers 7, 0 or 8, anything else succeeds.
Tests and the cluster simulator script exceptions with `script(resource, action, rc=...)`
(an rc, an exit reason, or ``hang=True`` for a call that only ends when killed) and read
`calls` to see what ran. It never sleeps: a call completes as soon as the loop runs it.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass

from lrmd.messages import ExecRequest
from lrmd.runner import RunOutcome
from messaging.types import OcfRc, OpStatus


@dataclass(frozen=True, slots=True)
class _Script:
    rc: int = 0
    exit_reason: str = ""
    hang: bool = False
    times: int = -1  # -1 = every call


class FakeAgentRunner:
    """Resources as roles in a dict; scripted results override the default behaviour."""

    def __init__(self) -> None:
        self.roles: dict[str, str] = {}
        self.calls: list[tuple[str, str, int]] = []
        self._scripts: dict[tuple[str, str], _Script] = {}
        self._hung: dict[int, asyncio.Future[int]] = {}

    def script(
        self,
        resource: str,
        action: str,
        *,
        rc: int = 0,
        exit_reason: str = "",
        hang: bool = False,
        times: int = -1,
    ) -> None:
        """Make `action` on `resource` return `rc` (or hang) for the next `times` calls."""
        self._scripts[(resource, action)] = _Script(rc, exit_reason, hang, times)

    def running_calls(self) -> list[int]:
        return list(self._hung)

    def kill(self, call_id: int, signum: int) -> bool:
        future = self._hung.get(call_id)
        if future is None:
            return False
        if signum in (signal.SIGTERM, signal.SIGKILL) and not future.done():
            future.set_result(-signum)
        return True

    async def run(self, call_id: int, request: ExecRequest, params: dict[str, str]) -> RunOutcome:
        self.calls.append((request.resource, request.action, request.interval_ms))
        scripted = self._take_script(request.resource, request.action)
        if scripted is not None and scripted.hang:
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._hung[call_id] = future
            try:
                rc = await future
            finally:
                self._hung.pop(call_id, None)
            return RunOutcome(int(OcfRc.ERR_GENERIC), OpStatus.ERROR, f"killed by signal {-rc}")
        await asyncio.sleep(0)  # complete on a later loop turn, as a process would
        if scripted is not None:
            return RunOutcome(scripted.rc, OpStatus.DONE, scripted.exit_reason)
        return RunOutcome(self._default(request.resource, request.action))

    def _take_script(self, resource: str, action: str) -> _Script | None:
        scripted = self._scripts.get((resource, action))
        if scripted is None:
            return None
        if scripted.times > 0:
            left = scripted.times - 1
            if left == 0:
                del self._scripts[(resource, action)]
            else:
                self._scripts[(resource, action)] = _Script(
                    scripted.rc, scripted.exit_reason, scripted.hang, left
                )
        return scripted

    def _default(self, resource: str, action: str) -> int:
        role = self.roles.get(resource, "Stopped")
        if action == "monitor":
            return {"Stopped": 7, "Started": 0, "Promoted": 8}[role]
        if action == "start" and role == "Stopped":
            self.roles[resource] = "Started"
        elif action == "stop":
            self.roles[resource] = "Stopped"
        elif action in ("promote", "demote"):
            if role == "Stopped":
                return int(OcfRc.ERR_GENERIC)
            self.roles[resource] = "Promoted" if action == "promote" else "Started"
        return int(OcfRc.SUCCESS)
