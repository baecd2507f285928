"""Start-up rules of the heartbeat daemon (generation numbers, node membership) and its
control socket's answer once it left the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from messaging.config import parse_ha_cf
from messaging.errors import ConfigError
from messaging.heartbeat.service import check_membership, next_generation


def test_generation_grows_even_when_the_clock_goes_back(tmp_path: Path) -> None:
    first = next_generation(tmp_path, wall=1_800_000_000.5)
    assert first == 1_800_000_000
    assert next_generation(tmp_path, wall=1_800_000_000.9) == first + 1
    assert next_generation(tmp_path, wall=1_700_000_000.0) == first + 2  # clock went back
    assert next_generation(tmp_path, wall=1_900_000_000.0) == 1_900_000_000
    (tmp_path / "hb_generation").write_text("garbage\n")
    assert next_generation(tmp_path, wall=5.0) == 5


def test_node_must_be_listed_unless_autojoin_any() -> None:
    config = parse_ha_cf("bcast eth0\nnode a b\n")
    check_membership(config, "a")
    with pytest.raises(ConfigError, match="current node 'c' is not in the configuration"):
        check_membership(config, "c")
    check_membership(parse_ha_cf("bcast eth0\nnode a\nautojoin any\n"), "c")


def test_hostcache_round_trip_ignores_junk(tmp_path: Path) -> None:
    from messaging.effects import Persist
    from messaging.heartbeat.core import HOSTCACHE
    from messaging.heartbeat.service import load_hostcache
    from messaging.runtime import StateFiles

    assert load_hostcache(tmp_path) == ()
    StateFiles(tmp_path)(Persist(HOSTCACHE, b"a\nb\n"))  # what the core persists
    assert load_hostcache(tmp_path) == ("a", "b")
    (tmp_path / "hostcache").write_text("a\nb\na\n" + "x" * 100 + "\n")
    assert load_hostcache(tmp_path) == ("a", "b")


def test_one_daemon_per_state_dir(tmp_path: Path) -> None:
    import os

    from messaging.heartbeat.service import lock_state_dir

    fd = lock_state_dir(tmp_path)
    try:
        with pytest.raises(ConfigError, match=rf"another heartbeat daemon \(pid {os.getpid()}\)"):
            lock_state_dir(tmp_path)
    finally:
        os.close(fd)
    os.close(lock_state_dir(tmp_path))  # free again once the holder is gone


def test_a_send_after_leaving_is_refused_not_acknowledged(tmp_path: Path) -> None:
    """Once heartbeat broadcast Leaving nothing more goes out: an Ack would tell the cib
    its diff left the node (it then answers the client's write) when it never did."""
    import asyncio
    import os

    from messaging.authkeys import load_authkeys, write_authkeys
    from messaging.errors import TransportError
    from messaging.heartbeat import api
    from messaging.heartbeat.service import HeartbeatService, Options
    from messaging.logs import get_logger

    write_authkeys(tmp_path / "authkeys")
    config = parse_ha_cf("ucast lo 127.0.0.1\nnode a b\n")
    options = Options("a", bind_address="127.0.0.1", state_dir=str(tmp_path / "state"))

    async def scenario() -> None:
        service = HeartbeatService(config, load_authkeys(tmp_path / "authkeys"), options,
                                   get_logger(daemon="test"))
        try:
            send = api.SendMessage("b", "cib", b"diff")
            assert service.answer(send, None) == api.Ack()  # type: ignore[arg-type]
            service.feed_leaving(service.runner.monotonic())
            with pytest.raises(TransportError, match="heartbeat is stopping"):
                service.answer(send, None)  # type: ignore[arg-type]
        finally:
            service.runner.close()
            service.server.close()
            service.publisher.close()
            os.close(service._lock_fd)

    asyncio.run(scenario())
