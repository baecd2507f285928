"""The OCF contract shared by hacluster's agents: parameters, exit reasons, dispatch.

An agent is a table of action functions plus its meta-data XML. `run_agent` reads the action
from argv[1] (extra arguments are ignored, as OCF asks), answers ``meta-data`` without any
instance environment, returns 3 for an unknown action and 2 when no action is given, and turns
an unexpected exception into rc 1 with a one-line exit reason instead of a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from messaging.types import OcfRc

EXIT_REASON_PREFIX = "ocf-exit-reason:"

Action = Callable[["Instance"], int]


class AgentFailure(Exception):
    """An action that cannot go on: carries the OCF rc and the exit reason."""

    def __init__(self, rc: OcfRc, reason: str) -> None:
        super().__init__(reason)
        self.rc = rc
        self.reason = reason


class Instance:
    """One agent call: the resource instance, its parameters and the op's meta values."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.name = env.get("OCF_RESOURCE_INSTANCE", "default")
        self.params = {
            k[len("OCF_RESKEY_") :]: v
            for k, v in env.items()
            if k.startswith("OCF_RESKEY_") and not k.startswith("OCF_RESKEY_CRM_meta_")
        }
        self.meta = {
            k[len("OCF_RESKEY_CRM_meta_") :]: v
            for k, v in env.items()
            if k.startswith("OCF_RESKEY_CRM_meta_")
        }
        self.check_level = env.get("OCF_CHECK_LEVEL", "0")
        self.rsctmp = env.get("HA_RSCTMP", "/run/resource-agents")

    def param(self, name: str, default: str = "") -> str:
        return self.params.get(name, default) or default

    @property
    def interval_ms(self) -> int:
        try:
            return int(self.meta.get("interval", "0"))
        except ValueError:
            return 0

    @property
    def is_probe(self) -> bool:
        return self.interval_ms == 0


def fail(rc: OcfRc, reason: str) -> AgentFailure:
    """An `AgentFailure` to raise: ``raise fail(OcfRc.ERR_CONFIGURED, "ip is required")``."""
    return AgentFailure(rc, reason)


def say_exit_reason(reason: str) -> None:
    prefix = os.environ.get("OCF_EXIT_REASON_PREFIX", EXIT_REASON_PREFIX)
    print(f"{prefix}{reason}", file=sys.stderr, flush=True)


def run_agent(actions: Mapping[str, Action], metadata: str, argv: list[str] | None = None) -> int:
    """Dispatch argv[1] to `actions` and return the OCF exit code."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        say_exit_reason(f"usage: agent {{{'|'.join(sorted([*actions, 'meta-data']))}}}")
        return int(OcfRc.ERR_ARGS)
    action = args[0]
    if action == "meta-data":
        sys.stdout.write(metadata)
        return int(OcfRc.SUCCESS)
    function = actions.get(action)
    if function is None:
        return int(OcfRc.ERR_UNIMPLEMENTED)
    try:
        return int(function(Instance()))
    except AgentFailure as failure:
        say_exit_reason(failure.reason)
        return int(failure.rc)
    except OSError as error:
        say_exit_reason(f"{action}: {error}")
        return int(OcfRc.ERR_GENERIC)


def state_path(instance: Instance, agent: str) -> Path:
    """The instance's state file: the `state` parameter, else `<agent>-<name>.state` in
    HA_RSCTMP (the convention of resource-agents' Dummy and Pacemaker's Stateful)."""
    default = os.path.join(instance.rsctmp, f"{agent}-{instance.name}.state")
    return Path(instance.param("state", default))


def check_state_directory(instance: Instance, path: Path) -> None:
    """A `state` parameter must point into an existing directory (rc 2 otherwise)."""
    if instance.param("state") and not path.parent.is_dir():
        raise fail(OcfRc.ERR_ARGS, f"state directory {path.parent} does not exist on this host")
