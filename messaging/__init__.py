"""The messaging and infrastructure layer of hacluster.

It owns what every daemon shares: the error tree and the one exit-code table
(`messaging.errors`), typed identifiers and enums (`messaging.types`), time
(`messaging.clock`), effect types returned by pure cores (`messaging.effects`)
and structured logging (`messaging.logs`). Later it also holds the heartbeat
daemon, the wire format, zmq IPC and the launcher. It imports nothing else of ours.
"""
