"""Where a node's daemons keep their sockets and state: the one default and its override.

Its own module, so that a command-line tool finding its node's sockets (cibadmin,
crm_attribute, attrd_updater) does not load ha.cf's parser (`messaging.config`, which
re-exports these names and uses the same default for ha.cf's ``state_dir``).
"""

from __future__ import annotations

import os

DEFAULT_STATE_DIR = "/var/lib/hacluster"  # the one default of every daemon and tool
STATE_DIR_ENV = "HACLUSTER_STATE_DIR"


def default_state_dir() -> str:
    """Where a daemon or tool looks for a node's sockets when neither ha.cf nor an option
    says: $HACLUSTER_STATE_DIR, else `DEFAULT_STATE_DIR` (ha.cf's `state_dir` default)."""
    return os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR


__all__ = ["DEFAULT_STATE_DIR", "STATE_DIR_ENV", "default_state_dir"]
