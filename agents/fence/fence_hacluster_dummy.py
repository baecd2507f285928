"""fence_hacluster_dummy: a hardware-free, multi-plug fence agent for tests.

Power state lives in a JSON state file (`state_file`, {plug: "on"|"off"}), updated under
an exclusive flock so concurrent runs never lose an update. Plugs never switched are in
`initial_state` (default on, like a running node). `plugs` names the plugs `list` shows
(plus any plug already in the state file). `mode` injects failures into power changes:
`ok` (default), `fail` (rc 1 with a Failed: line), `hang` (never returns; the caller's
timeout must kill it). Every action can be appended to `log_file` so tests can see what ran.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from agents.fence._fencing import AgentFailure, AgentSpec, Options, Param, main

_MODES = ("ok", "fail", "hang")


class DummyDevice:
    """Plugs in a JSON file; failure modes for tests."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.path = Path(options.get("state_file") or "/tmp/fence_hacluster_dummy.state")
        self.mode = options.get("mode", "ok").strip().lower() or "ok"
        if self.mode not in _MODES:
            raise AgentFailure(f"mode={self.mode!r} is not one of {', '.join(_MODES)}")
        self.initial_on = options.get("initial_state", "on").strip().lower() != "off"
        self._log(options.action)

    def _log(self, action: str) -> None:
        log_file = self.options.get("log_file")
        if log_file:
            with open(log_file, "a", encoding="utf-8") as log:
                log.write(f"{time.time():.3f} {os.getpid()} {action} {self.options.plug}\n")

    def _read(self) -> dict[str, str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise AgentFailure(f"cannot read state file {self.path}: {error.strerror}") from None
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as error:
            raise AgentFailure(f"state file {self.path} is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise AgentFailure(f"state file {self.path} does not hold an object")
        return {str(k): str(v) for k, v in data.items()}

    def _set(self, plug: str, state: str) -> None:
        if self.mode == "fail":
            raise AgentFailure(f"power {state} of plug {plug} failed (mode=fail)")
        if self.mode == "hang":
            while True:
                time.sleep(3600)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            data[plug] = state
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)

    def power_on(self, plug: str) -> None:
        self._set(plug, "on")

    def power_off(self, plug: str) -> None:
        self._set(plug, "off")

    def status(self, plug: str) -> bool:
        state = self._read().get(plug)
        return self.initial_on if state is None else state == "on"

    def plugs(self) -> list[tuple[str, str]]:
        names = self.options.get("plugs").replace(",", " ").split()
        names += [p for p in sorted(self._read()) if p not in names]
        return [(name, name) for name in names]

    def monitor(self) -> None:
        self._read()


SPEC = AgentSpec(
    name="fence_hacluster_dummy",
    shortdesc="Hardware-free fence agent for tests (power state in a file)",
    longdesc="Keeps the power state of every plug in a JSON state file. mode=fail makes power "
    "changes fail, mode=hang makes them never finish.",
    params=(
        Param("state_file", "File holding the power state of every plug",
              default="/tmp/fence_hacluster_dummy.state"),
        Param("plugs", "Plugs that the list action reports (comma or space separated)"),
        Param("initial_state", "State of a plug never switched: on or off", default="on"),
        Param("mode", "ok, fail (power changes fail) or hang (power changes never end)",
              default="ok"),
        Param("log_file", "Append one line per action run to this file"),
    ),
    make_device=DummyDevice,
)


def cli() -> None:
    """Console-script entry point."""
    main(SPEC)


if __name__ == "__main__":
    cli()
