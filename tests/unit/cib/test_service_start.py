"""The cib daemon at start: a CIB file with a flipped byte is detected, kept aside, and the
daemon starts from an older good copy (so the cluster's copy replaces it at the first view)."""

from __future__ import annotations

from pathlib import Path

from cib.model import empty_cib, version_of
from cib.service import CibService
from cib.store import CibStore


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    index = data.index(b'epoch="7"') + len('epoch="')
    data[index] ^= 0x01  # "7" -> "6": still XML, no longer its signature
    path.write_bytes(bytes(data))


def test_flipped_byte_is_set_aside_at_daemon_start(tmp_path: Path) -> None:
    store = CibStore(tmp_path / "cib")
    store.save(empty_cib(epoch=5), term=1)
    store.save(empty_cib(epoch=7), term=2)
    _flip_byte(tmp_path / "cib" / "cib.xml")

    service = CibService("n1", tmp_path)
    try:
        assert version_of(service.core.cib) == (0, 5, 0)  # the backup, not the tampered 6
        assert list((tmp_path / "cib").glob("cib.xml.corrupt-*"))
    finally:
        service.runner.close()
        service.peers.close()


def test_nothing_usable_starts_from_version_zero(tmp_path: Path) -> None:
    (tmp_path / "cib").mkdir()
    (tmp_path / "cib" / "cib.xml").write_bytes(b"<cib epoch='3'>")
    service = CibService("n1", tmp_path)
    try:
        assert version_of(service.core.cib) == (0, 0, 0)
        assert list((tmp_path / "cib").glob("cib.xml.corrupt-*"))
    finally:
        service.runner.close()
        service.peers.close()


def test_lab_seed_is_a_valid_signed_store(tmp_path: Path) -> None:
    from lab.cib_seed import seed_store
    from lab.layout import LabSpec

    seed_store(tmp_path, LabSpec(name="seedt"))
    loaded = CibStore(tmp_path / "cib").load()
    assert loaded.source == tmp_path / "cib" / "cib.xml" and not loaded.set_aside
    assert loaded.cib is not None and loaded.cib.find(".//primitive[@id='fence-lab']") is not None
