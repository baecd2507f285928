"""The XML CIB: schema, versions, replication from the DC, durable storage and cibadmin.

What an acknowledged write (exit 0) guarantees. The master acknowledges a change once it is
written into the master's journal (`cib.disk`: the kernel's page cache, fdatasync'd in the
background, batches written meanwhile sharing the next sync) and its diff was sent to every
replica of the view (`cib.replication`: one heartbeat broadcast, which leaves only behind that
journal write); a write made on a replica is answered there once it applied that diff
(`cib.replication_follower`), which says the same. The master answers its own client only
once its heartbeat took the frame carrying the diff (heartbeat's `Ack`, given once it
handed the datagrams to the kernel: `messaging.peer_channel.PeerChannel.after_handed`). It
therefore survives the death of the master's cib process (the kernel still writes the
file; heartbeat still delivers the diff), and the death of the master's node (the diff is
on the wire; the replicas apply it, and one of them becomes master with the highest
version). What can lose it: the diff lost on the wire to a node whose heartbeat never asks
for it again because its sender died (a replica that misses a diff otherwise
notices the version gap and takes the whole CIB), or a simultaneous power loss of the
master's node and of every replica before their disks caught up (the replicas journal the
master's diff as they apply it, or after a resync save their copy within
`cib.service.DEFERRED_WRITE_DELAY`). This is Pacemaker's rule: its cib answers a client once
the master applied the change and broadcast it over the cluster's group messaging (the
replicas apply the broadcast and confirm nothing), and writes the CIB afterwards. A master
with no replica (a one-node view) journals nothing: each change is a whole-copy save,
fsync'd before the acknowledgement.

A member stonithd reported powered off or rebooted (crmd relays the result:
`cib.api.PeerWasFenced`) leaves the view's replicas: its cib died with it, though ccm may
still list the node (a reboot faster than heartbeat's deadtime). Its messages in that view
are ignored and a new master's sync does not wait for its announce; its next boot's cib
comes in a later view and is synced whole. The master itself is never dropped this way.
"""
