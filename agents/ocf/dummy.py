"""ocf:hacluster:Dummy: a resource that is "running" while its state file exists.

Behaves like ocf:heartbeat:Dummy: start creates the state file, stop removes it, monitor
answers 0 or 7; start and stop are idempotent. Parameters: ``state`` (default
``$HA_RSCTMP/Dummy-<instance>.state``), ``fake`` (reloadable, unused) and ``op_sleep``
(seconds each action sleeps first, for exercising timeouts).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from agents.ocf._ocf import Instance, check_state_directory, fail, run_agent, state_path
from messaging.types import OcfRc

METADATA = """<?xml version="1.0"?>
<resource-agent name="Dummy" version="1.0">
<version>1.1</version>
<longdesc lang="en">A resource that does nothing but keep a state file: running while the
file exists. Useful for tests and as a template.</longdesc>
<shortdesc lang="en">Example stateless resource agent</shortdesc>
<parameters>
<parameter name="state" unique="1">
<longdesc lang="en">Location of the state file.</longdesc>
<shortdesc lang="en">State file</shortdesc>
<content type="string" default="/run/resource-agents/Dummy-RESOURCE_ID.state"/>
</parameter>
<parameter name="fake" reloadable="1">
<longdesc lang="en">A parameter that changes nothing, so reload-agent can be tried.</longdesc>
<shortdesc lang="en">Fake parameter</shortdesc>
<content type="string" default="dummy"/>
</parameter>
<parameter name="op_sleep" reloadable="1">
<longdesc lang="en">Seconds every action sleeps before doing its work.</longdesc>
<shortdesc lang="en">Operation sleep</shortdesc>
<content type="string" default="0"/>
</parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" depth="0"/>
<action name="reload-agent" timeout="20s"/>
<action name="migrate_to" timeout="20s"/>
<action name="migrate_from" timeout="20s"/>
<action name="validate-all" timeout="20s"/>
<action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
"""


def state_file(instance: Instance) -> Path:
    return state_path(instance, "Dummy")


def validate(instance: Instance) -> int:
    try:
        delay = float(instance.param("op_sleep", "0"))
    except ValueError:
        raise fail(OcfRc.ERR_CONFIGURED, "op_sleep must be a number of seconds") from None
    if delay < 0:
        raise fail(OcfRc.ERR_CONFIGURED, "op_sleep must not be negative")
    check_state_directory(instance, state_file(instance))
    return int(OcfRc.SUCCESS)


def _prepare(instance: Instance) -> Path:
    validate(instance)
    time.sleep(float(instance.param("op_sleep", "0")))
    return state_file(instance)


def start(instance: Instance) -> int:
    path = _prepare(instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return int(OcfRc.SUCCESS)


def stop(instance: Instance) -> int:
    path = _prepare(instance)
    path.unlink(missing_ok=True)
    return int(OcfRc.SUCCESS)


def monitor(instance: Instance) -> int:
    path = _prepare(instance)
    return int(OcfRc.SUCCESS if path.exists() else OcfRc.NOT_RUNNING)


def migrate_to(instance: Instance) -> int:
    return stop(instance)


def migrate_from(instance: Instance) -> int:
    return start(instance)


def reload_agent(instance: Instance) -> int:
    validate(instance)
    return int(OcfRc.SUCCESS)


ACTIONS = {
    "start": start,
    "stop": stop,
    "monitor": monitor,
    "status": monitor,
    "migrate_to": migrate_to,
    "migrate_from": migrate_from,
    "reload-agent": reload_agent,
    "reload": reload_agent,
    "validate-all": validate,
}

if __name__ == "__main__":
    sys.exit(run_agent(ACTIONS, METADATA))
