"""The ccm service keeps the last installed view id on disk, like Corosync's ring id file."""

from __future__ import annotations

from pathlib import Path

from ccm.service import VIEW_ID_FILE, load_view_id, save_view_id


def test_fresh_node_starts_at_zero(tmp_path: Path) -> None:
    assert load_view_id(tmp_path) == 0


def test_saved_view_id_is_read_back_and_replaced_atomically(tmp_path: Path) -> None:
    save_view_id(tmp_path, 12)
    save_view_id(tmp_path, 13)
    assert load_view_id(tmp_path) == 13
    assert sorted(p.name for p in tmp_path.iterdir()) == [VIEW_ID_FILE]


def test_garbage_file_counts_as_fresh(tmp_path: Path) -> None:
    (tmp_path / VIEW_ID_FILE).write_text("not a number\n")
    assert load_view_id(tmp_path) == 0
