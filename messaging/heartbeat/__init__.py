"""The heartbeat daemon: node/link liveness over UDP and reliable messages for upper layers.

`api` is the public contract (IPC messages, endpoints, HeartbeatClient); `core` and its
siblings are the pure protocol engine; `service` is the UDP + zmq shell; `__main__` runs it.
"""
