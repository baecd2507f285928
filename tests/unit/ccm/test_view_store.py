"""ccm keeps the last installed view id on disk, like Corosync's ring id file: the core
asks for it with a `Persist` effect on every new view, the service reads it at start."""

from __future__ import annotations

import random
from pathlib import Path

from ccm.core import TIMER_SETTLE, Timing
from ccm.node import VIEW_ID_FILE, CcmNode
from ccm.quorum import QuorumSettings
from ccm.service import load_view_id
from messaging.effects import Persist, TimerFired
from messaging.runtime import FakeScheduler, Runner, StateFiles


def test_fresh_node_starts_at_zero(tmp_path: Path) -> None:
    assert load_view_id(tmp_path) == 0


def test_installed_view_id_is_persisted_and_read_back(tmp_path: Path) -> None:
    scheduler = FakeScheduler()
    node = CcmNode("n1", QuorumSettings(nodes=("n1",)), Timing(), random.Random(1),
                   last_view_id=12)
    runner = Runner(node, scheduler, persist=StateFiles(tmp_path), publish=lambda _e: None,
                    send=lambda _e: None)
    runner.perform_all(node.start(0.0))
    runner.feed(TimerFired(TIMER_SETTLE, 5.0))
    assert node.view.view_id == 13
    assert load_view_id(tmp_path) == 13
    assert sorted(p.name for p in tmp_path.iterdir()) == [VIEW_ID_FILE]


def test_persist_effect_names_the_view_id_file() -> None:
    node = CcmNode("n1", QuorumSettings(nodes=("n1",)), Timing(), random.Random(1))
    node.start(0.0)
    effects = node.handle(TimerFired(TIMER_SETTLE, 5.0))
    assert Persist(VIEW_ID_FILE, b"1\n") in effects


def test_garbage_file_counts_as_fresh(tmp_path: Path) -> None:
    (tmp_path / VIEW_ID_FILE).write_text("not a number\n")
    assert load_view_id(tmp_path) == 0
