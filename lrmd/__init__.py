"""The local resource manager: runs OCF and LSB resource agents with timeouts and monitors.

Modules: `api` (the only one other packages import: messages, wire codec, `LrmdClient`,
op-digest and ``lrm_rsc_op`` helpers), `messages` (the dataclasses), `ops` (the pure core:
queue, serialisation, parallel limit, recurring monitors, timeouts as effects), `history`
(op-digest, ``lrm_rsc_op`` shape), `agents` (agent lookup and environment), `runner` and
`spawn` (agent processes), `service` (the zmq daemon shell), `cli` (``hacluster lrm``).

Environment: ``HACLUSTER_OCF_ROOTS`` (extra OCF roots searched before /usr/lib/ocf and the
package's own agents), ``HACLUSTER_LSB_DIR`` (instead of /etc/init.d),
``HACLUSTER_STATE_DIR`` (the default socket directory of the daemon and the CLI, else
messaging.config.DEFAULT_STATE_DIR).
"""
