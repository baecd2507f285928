"""Property: whatever the loss, duplication and reordering, once the network heals every
node has received exactly the messages meant for it, in the order they were sent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lab.sim import heartbeat_simulation
from messaging.auth import AuthKey, KeyRing
from messaging.heartbeat.api import MessageReceived
from messaging.heartbeat.events import SendRequest
from messaging.heartbeat.liveness import Timing

KEYS = KeyRing(1, (AuthKey(1, "md5", b"prop"),))
TIMING = Timing(keepalive=0.5, warntime=3.0, deadtime=8.0, initdead=16.0)
NAMES = ["a", "b", "c"]

_sends = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(["*", *NAMES]),
              st.integers(min_value=0, max_value=4000)),
    min_size=1, max_size=25)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), drop=st.floats(0, 0.4), duplicate=st.floats(0, 0.3),
       jitter=st.floats(0, 0.1), sends=_sends)
def test_exactly_once_in_order(seed: int, drop: float, duplicate: float, jitter: float,
                               sends: list[tuple[str, str, int]]) -> None:
    net = heartbeat_simulation(NAMES, KEYS, TIMING, seed=seed)
    net.start()
    net.run_for(1.0)
    link = net.network.links["eth0"]
    link.drop, link.duplicate, link.jitter = drop, duplicate, jitter
    expected: dict[str, list[tuple[str, bytes]]] = {n: [] for n in NAMES}
    for number, (src, dst, size) in enumerate(sends):
        payload = number.to_bytes(2, "big") * (size // 2 + 1)
        net.feed(src, "heartbeat", SendRequest(dst, "p", payload, net.now))
        for node in NAMES:
            if dst == "*" or (dst == node and node != src) or (dst == src == node):
                expected[node].append((src, payload))
        net.run_for(0.02)
    net.run_for(3.0)
    link.drop, link.jitter = 0.0, 0.0
    net.run_for(4.0)
    for node in NAMES:
        got = [(e.src, e.payload) for e in net.daemon(node, "heartbeat").published
               if isinstance(e, MessageReceived)]
        for src in NAMES:  # per-sender order is what is promised
            assert [p for s, p in got if s == src] == [p for s, p in expected[node] if s == src]
        assert net.core(node, "heartbeat").counters["messages.lost"] == 0
