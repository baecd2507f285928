"""The cib daemon in a loopback lab: writes from every node converge on one CIB (same
digest everywhere, every acknowledged write present), also after the master's node is
killed, written around and restarted."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from lab_names import lab_name

from lab.cli import lab

CIB_LAB = lab_name("hccibd")
BIN = Path(sys.executable).parent
TIMEOUT = 120.0  # a restarted node rejoins after heartbeat and ccm agree again


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(lab, ["--name", CIB_LAB, *args], catch_exceptions=False)
    return result.exit_code, result.output


def cibadmin(state_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HACLUSTER_STATE_DIR=state_dir)
    env.pop("CIB_file", None)
    return subprocess.run([str(BIN / "cibadmin"), *args], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def digest(state_dir: str) -> str | None:
    query = cibadmin(state_dir, "-Q")
    if query.returncode != 0:
        return None
    env = dict(os.environ)
    env.pop("CIB_file", None)
    result = subprocess.run([str(BIN / "cibadmin"), "-5", "-p"], input=query.stdout,
                            capture_output=True, text=True, env=env, check=True)
    return result.stdout.strip()


def write(state_dir: str, *args: str) -> bool:
    """One write, retried while its outcome is unknown (102: the view changed first);
    True once acknowledged (exit 0)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        result = cibadmin(state_dir, *args)
        if result.returncode == 0:
            return True
        assert result.returncode in (102, 124, 108), result.stderr
        if result.returncode == 108:  # an earlier try with unknown outcome did create it
            return True
    return False


def converged(dirs: dict[str, str], expected_ids: set[str]) -> bool:
    digests = {digest(d) for d in dirs.values()}
    if len(digests) != 1 or None in digests:
        return False
    text = cibadmin(next(iter(dirs.values())), "-Q", "-o", "resources").stdout
    return all(f'id="{rid}"' in text for rid in expected_ids)


def wait_converged(dirs: dict[str, str], expected_ids: set[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not converged(dirs, expected_ids):
        assert time.monotonic() < deadline, {n: digest(d) for n, d in dirs.items()}
        time.sleep(0.2)


def primitive(rid: str) -> str:
    return f'<primitive id="{rid}" class="ocf" provider="heartbeat" type="Dummy"/>'


def crm_attribute(state_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HACLUSTER_STATE_DIR=state_dir)
    env.pop("CIB_file", None)
    return subprocess.run([str(BIN / "crm_attribute"), *args], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def check_attribute_and_diff_events(dirs: dict[str, str]) -> None:
    """crm_attribute in live mode writes on one node and reads on another; a subscriber of
    a replica sees the change as a CibDiff carrying the acknowledged version."""
    from cib.api import CibClient, CibDiff

    with CibClient(dirs["n3"]) as client:
        subscriber = client.subscribe()
        try:
            event = None
            for attempt in range(20):  # a SUB socket joins late: write until one arrives
                result = crm_attribute(dirs["n2"], "-t", "crm_config", "-n", "hc-test",
                                       "-v", f"v{attempt}")
                assert result.returncode == 0, result.stderr
                event = subscriber.recv(timeout=2.0)
                if event is not None:
                    break
            assert isinstance(event, CibDiff) and "hc-test" in event.patch
        finally:
            subscriber.close()
    deadline = time.monotonic() + TIMEOUT
    while (query := crm_attribute(dirs["n1"], "-t", "crm_config", "-n", "hc-test", "-G",
                                  "-q")).stdout.strip() != f"v{attempt}":
        assert time.monotonic() < deadline, query
        time.sleep(0.2)


KEEP_LOGS = "HACLUSTER_TEST_KEEP_LOGS"  # a directory: a failed test's node logs go there


@contextlib.contextmanager
def three_nodes() -> Iterator[dict[str, str]]:
    """A fresh 3-node loopback lab with the cib: each node's state directory; down after
    (a failure's node logs and cib files copied first to $HACLUSTER_TEST_KEEP_LOGS)."""
    cli("down")
    code, out = cli("up", "--loopback", "--nodes", "3", "--wait", "30")
    dirs: dict[str, str] = {}
    try:
        assert code == 0, out
        status = json.loads(cli("status", "--json")[1])
        dirs = {n: info["state_dir"] for n, info in status["nodes"].items()}
        yield dirs
    except BaseException:
        keep_logs(dirs)
        raise
    finally:
        assert cli("down")[0] == 0


def keep_logs(dirs: dict[str, str]) -> None:
    """Copy each node's daemon logs and cib directory (not its sockets) to a fresh
    directory under $HACLUSTER_TEST_KEEP_LOGS, when set, and say where."""
    keep = os.environ.get(KEEP_LOGS)
    if not keep or not dirs:
        return
    import shutil
    import tempfile

    Path(keep).mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=time.strftime("%H%M%S-"), dir=keep))
    for node, state_dir in dirs.items():
        for source, name in ((Path(state_dir).parent / "log", "log"),
                             (Path(state_dir) / "cib", "cib")):
            if source.is_dir():  # a cib that never started has no directory
                shutil.copytree(source, target / node / name, dirs_exist_ok=True,
                                ignore=lambda where, names: [  # sockets: not copyable
                                    n for n in names if not (Path(where) / n).is_file()
                                    and not (Path(where) / n).is_dir()])
    print(f"node logs kept in {target}", file=sys.stderr)


def test_cib_converges_across_nodes_and_master_restart() -> None:
    cli("down")
    code, out = cli("up", "--loopback", "--nodes", "3", "--wait", "30")
    try:
        assert code == 0, out
        status = json.loads(cli("status", "--json")[1])
        dirs = {n: info["state_dir"] for n, info in status["nodes"].items()}
        acked: set[str] = set()
        for round_ in range(2):
            for node, state_dir in dirs.items():
                rid = f"r-{node}-{round_}"
                if write(state_dir, "-C", "-o", "resources", "-X", primitive(rid)):
                    acked.add(rid)
        assert write(dirs["n2"], "-M", "-X", '<primitive id="r-n1-0" description="m"/>')
        wait_converged(dirs, acked)
        assert 'description="m"' in cibadmin(dirs["n3"], "-Q", "-o", "resources").stdout
        assert len(acked) == 6
        check_attribute_and_diff_events(dirs)
        assert cli("kill", "n1")[0] == 0  # n1 is the master: the lowest name
        survivors = {n: d for n, d in dirs.items() if n != "n1"}
        assert write(dirs["n2"], "-C", "-o", "resources", "-X", primitive("r-after"))
        acked.add("r-after")
        wait_converged(survivors, acked)
        assert cli("start", "n1")[0] == 0
        wait_converged(dirs, acked)
    finally:
        assert cli("down")[0] == 0


@pytest.mark.slow
def test_cib_lab_many_writes() -> None:
    """The longer version: 30 writes from every node, then the same convergence check."""
    cli("down")
    code, out = cli("up", "--loopback", "--nodes", "3", "--wait", "30")
    try:
        assert code == 0, out
        status = json.loads(cli("status", "--json")[1])
        dirs = {n: info["state_dir"] for n, info in status["nodes"].items()}
        acked = {f"s-{node}-{i}" for i in range(30) for node, d in dirs.items()
                 if write(d, "-C", "-o", "resources", "-X", primitive(f"s-{node}-{i}"))}
        wait_converged(dirs, acked)
    finally:
        assert cli("down")[0] == 0


def _version(state_dir: str, *local: str) -> tuple[str, ...]:
    """(admin_epoch, epoch, num_updates) of a node's CIB ("-l": its own replica)."""
    import re

    head = cibadmin(state_dir, "-Q", *local).stdout[:400]
    return tuple(re.findall(r'\b(?:admin_epoch|epoch|num_updates)="(\d+)"', head)[:3])


def test_a_joining_node_receives_a_2mb_cib(tmp_path: Path) -> None:
    """A 2 MB CIB reaches a node that joins after it was written (the whole-CIB resync
    takes the bulk path, not heartbeat's fragmented stream)."""
    pairs = "".join(f'<nvpair id="bulk-{n:05d}" name="bulk-{n:05d}" value="{"x" * 40}"/>'
                    for n in range(22000))
    bulk = tmp_path / "bulk.xml"
    bulk.write_text(f'<cluster_property_set id="bulk">{pairs}</cluster_property_set>')
    assert bulk.stat().st_size > 2_000_000
    with three_nodes() as dirs:
        assert cli("kill", "n3")[0] == 0
        assert write(dirs["n1"], "-C", "-o", "crm_config", "-x", str(bulk))
        wanted = _version(dirs["n1"])
        assert cli("start", "n3")[0] == 0
        deadline = time.monotonic() + TIMEOUT
        while _version(dirs["n3"], "-l") != wanted:
            assert time.monotonic() < deadline, (_version(dirs["n3"], "-l"), wanted)
            time.sleep(0.2)
        wait_converged(dirs, set())


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 1000 cibadmin processes: minutes on a loaded host
def test_1000_writes_from_every_node_while_the_master_is_killed_and_restarted() -> None:
    """Issue 9's lab test: 1000 cibadmin writes spread over the 3 nodes while the master's
    node is killed and restarted; afterwards every node has the same digest and every
    acknowledged write."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    with three_nodes() as dirs:
        acked: set[str] = set()
        progress, stop = threading.Semaphore(0), threading.Event()

        def writer(node: str) -> None:
            for i in range(334 if node != "n3" else 332):
                if stop.is_set():  # the main thread failed: do not keep retrying
                    return
                rid = f"k-{node}-{i}"
                if write(dirs[node], "-C", "-o", "resources", "-X", primitive(rid)):
                    acked.add(rid)
                progress.release()

        def after(writes: int) -> None:
            for _ in range(writes):
                assert progress.acquire(timeout=TIMEOUT), "the writers stopped progressing"

        with ThreadPoolExecutor(3) as pool:
            done = [pool.submit(writer, node) for node in sorted(dirs)]
            try:
                after(150)  # a share of the writes first, then the master dies
                code, out = cli("kill", "n1")
                assert code == 0, out
                after(100)  # the survivors keep writing without it
                code, out = cli("start", "n1")
                assert code == 0, out
            except BaseException:
                stop.set()
                raise
            for future in done:
                future.result()
        assert len(acked) == 1000
        wait_converged(dirs, acked)
