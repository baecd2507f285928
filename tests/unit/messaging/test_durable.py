"""messaging.durable on real files: two slots written in place, the newest valid one read
back, a torn or crashed write never losing the last complete value, the writer thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from messaging.durable import (
    HEADER_SIZE,
    MIN_SLOT,
    BackgroundWriter,
    SlotFile,
    encode_slot,
)
from messaging.effects import Persist
from messaging.runtime import StateFiles


def test_values_read_back_and_the_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "state"
    file = SlotFile(path)
    assert file.read() is None
    file.write(b"one")
    inode = path.stat().st_ino
    for value in (b"two", b"three", b"four"):
        file.write(value)
        assert SlotFile(path).read() == value
    assert path.stat().st_ino == inode  # written in place: no rename, no freed inode
    assert path.stat().st_size == 2 * MIN_SLOT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def _tear(path: Path, keep: int) -> None:
    """What a crash in the middle of the next write leaves: its first `keep` bytes on
    disk over the older slot, the rest of that slot as it was."""
    content = path.read_bytes()
    size = len(content) // 2
    newest_seq = max(int.from_bytes(content[i * size + 4:i * size + 12], "big") for i in (0, 1))
    seq = newest_seq + 1
    record = encode_slot(seq, b"the value being written when the power went" * 3)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, record[:keep], (seq % 2) * size)
    finally:
        os.close(fd)


@pytest.mark.parametrize("keep", [1, 4, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 10, 100])
def test_a_torn_write_leaves_the_last_complete_value(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "state"
    file = SlotFile(path)
    file.write(b"older")
    file.write(b"last complete")
    _tear(path, keep)
    assert SlotFile(path).read() == b"last complete"


def test_after_a_torn_write_the_next_writes_go_on(tmp_path: Path) -> None:
    """A restarted writer overwrites the torn slot, not the good one, and keeps going."""
    path = tmp_path / "state"
    SlotFile(path).write(b"good")
    _tear(path, HEADER_SIZE + 5)
    restarted = SlotFile(path)
    restarted.write(b"after restart")
    assert SlotFile(path).read() == b"after restart"
    _tear(path, 3)  # and the value written after the restart survives the next tear
    assert SlotFile(path).read() == b"after restart"


def test_a_flipped_bit_in_the_newest_slot_falls_back_to_the_other(tmp_path: Path) -> None:
    path = tmp_path / "state"
    file = SlotFile(path)
    file.write(b"first")
    file.write(b"second")  # seq 2: slot 0
    content = bytearray(path.read_bytes())
    content[HEADER_SIZE + 1] ^= 0x01
    path.write_bytes(bytes(content))
    assert SlotFile(path).read() == b"first"


def test_a_value_larger_than_a_slot_grows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state"
    file = SlotFile(path)
    file.write(b"small")
    big = bytes(range(256)) * 40  # 10240 bytes
    file.write(big)
    assert SlotFile(path).read() == big
    assert path.stat().st_size == 2 * 16384
    file.write(b"small again")
    assert SlotFile(path).read() == b"small again"
    assert path.stat().st_size == 2 * 16384  # a slot file never shrinks


def test_a_file_of_the_old_whole_file_format_is_read_and_then_converted(
        tmp_path: Path) -> None:
    path = tmp_path / "ccm.view_id"
    path.write_bytes(b"17\n")  # written by the whole-file replace of earlier releases
    assert SlotFile(path).read() == b"17\n"
    SlotFile(path).write(b"18\n")
    assert SlotFile(path).read() == b"18\n"
    assert path.stat().st_size == 2 * MIN_SLOT


def test_a_slot_file_with_no_valid_slot_reads_as_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(encode_slot(1, b"x")[:HEADER_SIZE - 2] + bytes(2 * MIN_SLOT))
    assert SlotFile(path).read() is None


def test_the_background_writer_keeps_the_newest_value(tmp_path: Path) -> None:
    path = tmp_path / "state"
    writer = BackgroundWriter()
    for value in range(200):
        writer.submit(path, str(value).encode())
    assert writer.close()
    assert SlotFile(path).read() == b"199"
    with pytest.raises(RuntimeError):
        writer.submit(path, b"late")


def test_the_background_writer_reports_failures_and_goes_on(tmp_path: Path) -> None:
    failures: list[Path] = []
    reported = threading.Event()

    def failed(path: Path, _error: OSError) -> None:
        failures.append(path)
        reported.set()

    writer = BackgroundWriter(failed)
    writer.submit(tmp_path / "missing-dir" / "state", b"x")
    writer.submit(tmp_path / "state", b"y")
    assert writer.close()
    assert reported.is_set() and failures == [tmp_path / "missing-dir" / "state"]
    assert SlotFile(tmp_path / "state").read() == b"y"


def test_state_files_in_the_background_read_what_is_queued_then_what_is_written(
        tmp_path: Path) -> None:
    files = StateFiles(tmp_path, background=True)
    files(Persist("hb_peers", b"[]"))
    assert files.read("hb_peers") == b"[]"
    files.close()
    assert StateFiles(tmp_path).read("hb_peers") == b"[]"
