"""hacluster's fence agents: fence_lab (lab nodes) and fence_hacluster_dummy (no hardware).

Both speak the fence-agents calling convention (`_fencing`); `bin/` holds executable
wrappers so a fencer can run them like any /usr/sbin/fence_* agent.
"""
