"""The XML CIB: schema, versions, replication from the DC, durable storage and cibadmin.

What an acknowledged write (exit 0) guarantees. The master acknowledges a change once
every replica of the view holds it in memory (`cib.replication`) and its batch is written
into the master's journal (`cib.disk`: the kernel's page cache, fdatasync'd in the
background, batches written meanwhile sharing the next sync); a write made on a replica is
answered there by the same rule, from the replication messages
(`cib.replication_follower`: the master's diff, its mark that the batch is in the journal,
and the other replicas' confirmations copied to it). It therefore survives the death of
the master's cib process (the kernel still writes the file), the death of the master's
node (every replica holds it and one of them becomes master with the highest version), and
any failure that leaves one node of the view with its copy; only a simultaneous power loss
of the master's node and of every replica before their disks caught up can lose the last
group commit (the replicas journal the master's diff as they apply it, or after a resync
save their copy within `cib.service.DEFERRED_WRITE_DELAY`).
This is Pacemaker's rule: its cib acknowledges a change once applied and sent through the
totem ring, and writes the CIB afterwards. A master with no replica (a one-node view)
journals nothing: each change is a whole-copy save, fsync'd before the acknowledgement.

"Every replica of the view" excludes a member stonithd reported powered off or rebooted
(crmd relays the result: `cib.api.PeerWasFenced`): its cib died with it, so its copy no
longer counts, though ccm may still list the node (a reboot faster than heartbeat's
deadtime). Its messages in that view are ignored; its next boot's cib comes in a later
view and is synced whole. The replica set is thus the view's members minus the nodes
fenced since that view began; the master itself is never dropped this way.
"""
