"""The messaging and infrastructure layer of hacluster.

It owns what every daemon shares: the error tree and the one exit-code table
(`messaging.errors`), typed identifiers and enums (`messaging.types`), time
(`messaging.clock`), effects returned by pure cores and typed destinations
(`messaging.effects`), the one core runner (`messaging.runtime`), the one IPC envelope,
server and client (`messaging.envelope`, `messaging.ipc`, `messaging.client`), a daemon's
asyncio life (`messaging.daemon`), contracts several daemons share (`messaging.membership`,
`messaging.handoff`), configuration (`messaging.config`), structured logging
(`messaging.logs`), the heartbeat daemon, its wire format and the launcher. It imports
nothing else of ours.
"""
