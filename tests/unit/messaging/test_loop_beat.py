"""The loop heartbeat's interval comes from the launcher (messaging.loop_beat).

The launcher names the beat file and how often to write it (half its probe interval): an
idle daemon then wakes for its beat no more often than the launcher reads it. A missing or
unusable interval falls back to the default, never to a beat that spins or never comes.
"""

from __future__ import annotations

import pytest

from messaging.loop_beat import BEAT_ENV, BEAT_INTERVAL, BEAT_INTERVAL_ENV, from_environment


def test_no_beat_unless_the_launcher_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BEAT_ENV, raising=False)
    assert from_environment() is None


@pytest.mark.parametrize(("given", "expected"), [
    ("2.5", 2.5), (None, BEAT_INTERVAL), ("soon", BEAT_INTERVAL), ("0", BEAT_INTERVAL),
    ("-1", BEAT_INTERVAL), ("inf", BEAT_INTERVAL), ("nan", BEAT_INTERVAL)])
def test_the_interval_is_the_launchers_when_usable(monkeypatch: pytest.MonkeyPatch,
                                                   given: str | None, expected: float) -> None:
    monkeypatch.setenv(BEAT_ENV, "/nonexistent/d.beat")
    if given is None:
        monkeypatch.delenv(BEAT_INTERVAL_ENV, raising=False)
    else:
        monkeypatch.setenv(BEAT_INTERVAL_ENV, given)
    beat = from_environment()
    assert beat is not None and beat.path == "/nonexistent/d.beat"
    assert beat.interval == expected
