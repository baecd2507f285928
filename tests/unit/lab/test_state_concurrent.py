"""The lab's state file under concurrent updates: several `lab start` commands of one lab run
at once (a rack powered on together), each loading the state, recording its own node's
holder and daemon pids and saving. No node's entry may be lost, and no save may fail."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lab.layout import (
    LabSpec,
    LabState,
    NodeState,
    load,
    power_lock,
    power_lock_path,
    save,
)

NODES = 6


def _fresh_lab(tmp_path: Path) -> LabSpec:
    spec = LabSpec(name="racetest", nodes=NODES, loopback=True)
    nodes = {name: NodeState(name, i, str(tmp_path / name))
             for i, name in enumerate(spec.node_names(), 1)}
    save(LabState(spec, nodes))
    return spec


def _start_all_at_once(spec: LabSpec, rounds: int) -> list[BaseException]:
    """Each thread is one `lab start NODE`: load, then save twice (holder, then daemons),
    with every thread loading before any saves so each works from the same old state."""
    barrier = threading.Barrier(NODES)
    errors: list[BaseException] = []

    def start(index: int, name: str) -> None:
        try:
            state = load(spec.name, True)
            assert state is not None
            barrier.wait()
            node = state.node(name)
            node.holder_pid, node.pids = 1000 + index, {}
            save(state)
            for step in range(rounds):
                node.pids = {"heartbeat": 2000 + index, "step": step}
                save(state)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=start, args=(i, name))
               for i, name in enumerate(spec.node_names(), 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_starts_keep_every_node(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    spec = _fresh_lab(tmp_path)
    rounds = 20
    assert _start_all_at_once(spec, rounds) == []
    final = load(spec.name, True)
    assert final is not None
    for index, name in enumerate(spec.node_names(), 1):
        node = final.node(name)
        assert (node.holder_pid, node.pids) == (
            1000 + index, {"heartbeat": 2000 + index, "step": rounds - 1}), name


def test_later_save_keeps_what_another_process_wrote(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that changed only the lab's partition must not put back another command's
    older view of a node (the stale copy it loaded)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    spec = _fresh_lab(tmp_path)
    stale, starter = load(spec.name, True), load(spec.name, True)
    assert stale is not None and starter is not None
    starter.node("n2").holder_pid = 42
    save(starter)
    stale.partition = [["n1"], ["n2", "n3"]]
    save(stale)
    final = load(spec.name, True)
    assert final is not None
    assert final.node("n2").holder_pid == 42
    assert final.partition == [["n1"], ["n2", "n3"]]


def test_state_file_keeps_its_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record on disk has exactly the keys `lab down` and older tools read."""
    import json

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    spec = _fresh_lab(tmp_path)
    raw = json.loads((tmp_path / "run" / "hacluster-lab" / f"{spec.name}.json").read_text())
    assert sorted(raw) == ["loss", "nodes", "partition", "pdu_pid", "spec", "switch"]
    assert sorted(raw["nodes"]["n1"]) == ["directory", "holder_pid", "index", "name",
                                          "namespace", "netns_inode", "pids"]
    assert list(tmp_path.joinpath("run", "hacluster-lab").glob("*.tmp")) == []


def _held_elsewhere(path: Path) -> bool:
    """Whether another open file description holds the flock on `path` (a probe that does
    not wait: a second `lab start` would block there)."""
    import fcntl

    with open(path, "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def test_power_lock_is_per_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Powering on one node excludes a racing power switch on that node (two holders with
    one name) but not the other nodes of the rack, which boot side by side."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    spec = _fresh_lab(tmp_path)
    with power_lock(spec, "n1"):
        assert _held_elsewhere(power_lock_path(spec.name, True, "n1"))
        assert not _held_elsewhere(power_lock_path(spec.name, True, "n2"))
        with power_lock(spec, "n2"):  # would wait forever with one lock for the lab
            assert _held_elsewhere(power_lock_path(spec.name, True, "n2"))
    assert not _held_elsewhere(power_lock_path(spec.name, True, "n1"))
