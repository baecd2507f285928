"""The CIB directory: atomic writes with signatures, numbered backups, corruption detected."""

from __future__ import annotations

from pathlib import Path

from cib.store import CibStore
from cib.xmlio import element_text, on_disk_digest, parse


def _cib(epoch: int) -> str:
    return (f'<cib epoch="{epoch}" num_updates="7" admin_epoch="0" validate-with="pacemaker-3.9"'
            ' crm_feature_set="3.16.1" dc-uuid="1"><configuration><crm_config/><nodes/>'
            '<resources/><constraints/></configuration><status><node_state id="1"/></status></cib>')


def test_save_writes_the_tree_without_status_and_its_signature(tmp_path: Path) -> None:
    store = CibStore(tmp_path)
    store.save(parse(_cib(3)), written="Sun Dec  6 02:00:00 2026")
    written = parse((tmp_path / "cib.xml").read_bytes())
    assert written.find("status") is None and written.get("num_updates") == "0"
    assert (tmp_path / "cib.xml.sig").read_text() == on_disk_digest(written)
    loaded = store.load()
    assert loaded.cib is not None and loaded.cib.get("epoch") == "3"
    assert loaded.cib.find("status") is not None and loaded.cib.get("dc-uuid") is None


def test_each_save_backs_up_the_previous_pair_and_numbers_wrap(tmp_path: Path) -> None:
    store = CibStore(tmp_path, series_max=3)
    for epoch in range(1, 6):
        store.save(parse(_cib(epoch)))
    # Saves 2..5 backed up epochs 1..4 as cib-0..cib-3, wrapping at 3: cib-0 is epoch 4.
    assert (tmp_path / "cib.last").read_text() == "0"
    assert parse((tmp_path / "cib-0.raw").read_bytes()).get("epoch") == "4"
    assert parse((tmp_path / "cib-2.raw").read_bytes()).get("epoch") == "3"
    assert not (tmp_path / "cib-3.raw").exists()


def test_a_flipped_byte_is_detected_at_start_and_the_file_kept_aside(tmp_path: Path) -> None:
    store = CibStore(tmp_path)
    store.save(parse(_cib(1)))
    store.save(parse(_cib(2)))
    live = tmp_path / "cib.xml"
    data = bytearray(live.read_bytes())
    spot = data.index(b'epoch="2"') + len(b'epoch="')
    data[spot] ^= 0x01  # "2" becomes "3": still XML, wrong content
    live.write_bytes(bytes(data))
    loaded = CibStore(tmp_path).load()
    assert loaded.cib is not None and loaded.cib.get("epoch") == "1"  # the newest backup
    assert tmp_path / "cib.xml.corrupt-0" in loaded.set_aside
    assert (tmp_path / "cib.xml.corrupt-0").read_bytes() == bytes(data)
    assert not live.exists()


def test_a_tampered_signature_and_no_backup_gives_nothing(tmp_path: Path) -> None:
    store = CibStore(tmp_path)
    store.save(parse(_cib(1)))
    (tmp_path / "cib.xml.sig").write_text("0" * 32)
    loaded = store.load()
    assert loaded.cib is None and len(loaded.set_aside) == 2


def test_a_hand_edited_live_file_is_kept_aside_not_backed_up(tmp_path: Path) -> None:
    store = CibStore(tmp_path)
    store.save(parse(_cib(1)))
    (tmp_path / "cib.xml").write_text(element_text(parse(_cib(9))))
    store.save(parse(_cib(2)))
    assert (tmp_path / "cib.xml.corrupt-0").exists()
    assert store.load().cib is not None and not (tmp_path / "cib-0.raw").exists()


def test_our_signature_is_the_one_cibadmin_computes() -> None:
    # cibadmin -5 of this exact text, Pacemaker 2.1.5 (Debian 12).
    tree = parse('<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="2" '
                 'num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/>'
                 '<resources><primitive id="d1" class="ocf" provider="pacemaker" type="Dummy"/>'
                 '</resources><constraints/></configuration><status/></cib>')
    assert on_disk_digest(tree) == "44cadd04cc0eb99a8b4ee8b1cea58b87"


def test_the_replication_term_is_kept_with_the_live_copy_only(tmp_path: Path) -> None:
    store = CibStore(tmp_path)
    store.save(parse(_cib(1)), term=4)
    store.save(parse(_cib(2)), term=7)
    assert store.load().term == 7
    (tmp_path / "cib.xml.sig").write_text("0" * 32)
    fallback = CibStore(tmp_path).load()
    assert fallback.cib is not None and fallback.cib.get("epoch") == "1" and fallback.term == 0
