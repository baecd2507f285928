"""crmd's public surface: every name in __all__ exists, and nothing else is promised."""

from __future__ import annotations

import crmd.api


def test_every_exported_name_exists() -> None:
    missing = [name for name in crmd.api.__all__ if not hasattr(crmd.api, name)]
    assert missing == []


def test_core_entry_points_are_exported() -> None:
    for name in ("Controller", "TransitionEngine", "Election", "JoinCoordinator", "Recorder",
                 "run_scheduler", "graph_of", "graph_from_xml"):
        assert name in crmd.api.__all__
    assert sorted(crmd.api.__all__) == sorted(set(crmd.api.__all__)), "no duplicates"
