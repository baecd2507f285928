"""ocf:hacluster:Stateful: a promotable resource whose role lives in a state file.

Like ocf:pacemaker:Stateful: start makes it Unpromoted, promote/demote switch roles,
monitor answers 7 (stopped), 0 (unpromoted) or 8 (promoted), notify always succeeds.
Parameters: ``state`` (default ``$HA_RSCTMP/Stateful-<instance>.state``).
(The promotion score Pacemaker's agent sets through the attribute manager is not set here.)
"""

from __future__ import annotations

import sys
from pathlib import Path

from agents.ocf._ocf import Instance, check_state_directory, fail, run_agent, state_path
from messaging.types import OcfRc

METADATA = """<?xml version="1.0"?>
<resource-agent name="Stateful" version="1.0">
<version>1.1</version>
<longdesc lang="en">A promotable resource for tests: the current role is kept in a state
file.</longdesc>
<shortdesc lang="en">Example promotable resource agent</shortdesc>
<parameters>
<parameter name="state" unique="1">
<longdesc lang="en">Location of the state file.</longdesc>
<shortdesc lang="en">State file</shortdesc>
<content type="string" default="/run/resource-agents/Stateful-RESOURCE_ID.state"/>
</parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" depth="0" timeout="20s" interval="10s" role="Promoted"/>
<action name="monitor" depth="0" timeout="20s" interval="11s" role="Unpromoted"/>
<action name="promote" timeout="10s"/>
<action name="demote" timeout="10s"/>
<action name="notify" timeout="5s"/>
<action name="reload-agent" timeout="10s"/>
<action name="validate-all" timeout="30s"/>
<action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
"""

_PROMOTED, _UNPROMOTED = "promoted", "unpromoted"


def state_file(instance: Instance) -> Path:
    return state_path(instance, "Stateful")


def role(instance: Instance) -> str | None:
    try:
        text = state_file(instance).read_text().strip()
    except FileNotFoundError:
        return None
    return text if text in (_PROMOTED, _UNPROMOTED) else _UNPROMOTED


def _write(instance: Instance, value: str) -> None:
    path = state_file(instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n")


def validate(instance: Instance) -> int:
    check_state_directory(instance, state_file(instance))
    return int(OcfRc.SUCCESS)


def start(instance: Instance) -> int:
    validate(instance)
    if role(instance) is None:
        _write(instance, _UNPROMOTED)
    return int(OcfRc.SUCCESS)


def stop(instance: Instance) -> int:
    state_file(instance).unlink(missing_ok=True)
    return int(OcfRc.SUCCESS)


def monitor(instance: Instance) -> int:
    current = role(instance)
    if current is None:
        return int(OcfRc.NOT_RUNNING)
    return int(OcfRc.RUNNING_PROMOTED if current == _PROMOTED else OcfRc.SUCCESS)


def promote(instance: Instance) -> int:
    if role(instance) is None:
        raise fail(OcfRc.ERR_GENERIC, "cannot promote: the resource is not running")
    _write(instance, _PROMOTED)
    return int(OcfRc.SUCCESS)


def demote(instance: Instance) -> int:
    if role(instance) is None:
        raise fail(OcfRc.ERR_GENERIC, "cannot demote: the resource is not running")
    _write(instance, _UNPROMOTED)
    return int(OcfRc.SUCCESS)


def notify(instance: Instance) -> int:
    return int(OcfRc.SUCCESS)


ACTIONS = {
    "start": start,
    "stop": stop,
    "monitor": monitor,
    "promote": promote,
    "demote": demote,
    "notify": notify,
    "reload-agent": validate,
    "validate-all": validate,
}

if __name__ == "__main__":
    sys.exit(run_agent(ACTIONS, METADATA))
