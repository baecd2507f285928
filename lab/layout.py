"""What a lab is made of: its spec, addresses, per-node files and the persisted state file.

A lab is recorded in ``/run/hacluster-lab/<name>.json`` (root) so `lab down` can remove it
after a crash of the tool; each node has a directory ``<root>/<name>/<node>/`` holding
``etc/`` (ha.cf, authkeys: bind-mounted over /etc/ha.d inside the node), ``state/``
(bind-mounted over /var/lib/hacluster) and ``log/``. Addresses come from a private range
used only inside the lab's namespaces: link k of node i is 10.213.(60+k).(10+i)/24.

Concurrent updates: several `lab` commands of one lab may run at once (every node started
together, as when power returns to a rack). Each keeps the record it last loaded or saved;
`save` takes an exclusive flock on ``<name>.lock`` and merges three ways: whatever this
command changed since then replaces the file's value, everything else keeps what other
commands wrote meanwhile. The file is replaced by an atomic rename of a uniquely named
temporary, so a reader never sees half a file and writers never share a temporary. Threads
of one command (a rack's nodes booted side by side) save one after the other: the record
and its merge base are one pair.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from messaging.errors import ConfigError, UsageError

STATE_DIR = Path("/run/hacluster-lab")
DATA_DIR = Path("/var/lib/hacluster-lab")
NET_PREFIX = "10.213"
FIRST_SUBNET = 60
MAX_NODES = 16
Media = Literal["ucast", "bcast"]
AUTH_METHODS = ("hmac-sha256", "sha1", "md5", "crc")
NODE_PDU_DIR = "/run/hacluster-pdu"
NODE_PDU_SOCKET = f"{NODE_PDU_DIR}/pdu.sock"  # fence_lab's default pdu_socket
CIB_CONFIGS = ("demo", "empty")  # what lab.cib_seed seeds: lab/demo.xml, or no resources


@dataclass(frozen=True, slots=True)
class LabSpec:
    """Options of `lab up`."""

    name: str = "hclab"
    nodes: int = 3
    links: int = 1
    media: Media = "ucast"
    keepalive_ms: int = 200
    deadtime_ms: int = 1000
    auth: str = "hmac-sha256"
    port: int = 694
    loopback: bool = False
    crm: bool = True  # `crm respawn` in ha.cf: the launcher also starts lrmd and stonithd
    cib: str = "demo"  # the seed configuration, one of CIB_CONFIGS (see lab.cib_seed)

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= MAX_NODES:
            raise UsageError(f"--nodes must be between 1 and {MAX_NODES}, not {self.nodes}")
        if not 1 <= self.links <= 2:
            raise UsageError(f"--links must be 1 or 2, not {self.links}")
        if self.deadtime_ms <= 2 * self.keepalive_ms:
            raise UsageError("--deadtime must be more than twice --keepalive")
        if self.auth not in AUTH_METHODS:
            raise UsageError(f"--auth must be one of {', '.join(AUTH_METHODS)}, not {self.auth}")
        if not self.name.isalnum() or len(self.name) > 8:
            raise UsageError("--name must be 1..8 letters or digits")
        if self.cib not in CIB_CONFIGS:
            raise UsageError(f"--config must be one of {', '.join(CIB_CONFIGS)}, not {self.cib}")
        if self.loopback and self.media != "ucast":
            raise UsageError("the loopback lab (no root) supports ucast only")

    def node_names(self) -> list[str]:
        return [f"n{i}" for i in range(1, self.nodes + 1)]


def address(spec: LabSpec, index: int, link: int = 0) -> str:
    """IPv4 address of node `index` (1-based) on `link`."""
    if spec.loopback:
        return f"127.{loopback_octet(spec.name)}.{FIRST_SUBNET + link}.{10 + index}"
    return f"{NET_PREFIX}.{FIRST_SUBNET + link}.{10 + index}"


def loopback_octet(name: str) -> int:
    """The second octet of a loopback lab's addresses, from its name. Every loopback lab
    bound 127.0.60.x: a second one (the lab tests of another checkout) bound the same
    ports (heartbeat sets SO_REUSEADDR) and took the first one's datagrams, whose nodes
    partitioned; writes acknowledged on one side were lost at the merge. Two names may
    still share an octet: `lab.loopback.up` refuses addresses in use."""
    return 1 + zlib.crc32(name.encode()) % 254


def link_name(spec: LabSpec, link: int) -> str:
    return "lo" if spec.loopback else f"eth{link}"


@dataclass
class NodeState:
    """What the lab knows about one node (holder = the node's PID-1 or daemon parent)."""

    name: str
    index: int
    directory: str
    namespace: str = ""
    netns_inode: int = 0
    holder_pid: int | None = None
    pids: dict[str, int] = field(default_factory=dict)


@dataclass
class LabState:
    spec: LabSpec
    nodes: dict[str, NodeState]
    switch: str = ""
    partition: list[list[str]] = field(default_factory=list)
    loss: dict[str, int] = field(default_factory=dict)
    pdu_pid: int | None = None  # the lab's power switch (lab.pdu), netns labs only
    # The record as this command last loaded or saved it (the merge base of `save`);
    # never written to the file.
    synced: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def node(self, name: str) -> NodeState:
        try:
            return self.nodes[name]
        except KeyError:
            known = ", ".join(self.nodes)
            raise UsageError(f"no node {name!r} in lab {self.spec.name} ({known})") from None


def state_root(loopback: bool) -> Path:
    if not loopback:
        return STATE_DIR
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path.home() / ".cache")
    return Path(base) / "hacluster-lab"


def data_root(loopback: bool) -> Path:
    return state_root(True) / "data" if loopback else DATA_DIR


def pdu_dir(name: str) -> Path:
    """Directory of the lab's PDU socket; each node sees it as `NODE_PDU_DIR`."""
    return DATA_DIR / name / "pdu"


def state_path(name: str, loopback: bool) -> Path:
    return state_root(loopback) / f"{name}.json"


def power_lock_path(name: str, loopback: bool, node: str) -> Path:
    return state_root(loopback) / f"{name}.{node}.power"


def _record(state: LabState) -> dict[str, Any]:
    """The state as written to the file (without the merge base)."""
    record = asdict(state)
    del record["synced"]
    return record


_MISSING = object()


def _merge(base: Any, ours: Any, theirs: Any) -> Any:
    """Three-way merge of JSON values: our change since `base` wins, else theirs stays;
    dicts (the nodes, their pids, loss) merge key by key so commands on different nodes
    never undo each other."""
    if ours in (base, theirs):
        return theirs
    if theirs == base or not all(isinstance(v, dict) for v in (base, ours, theirs)):
        return ours
    merged: dict[str, Any] = {}
    for key in {**theirs, **ours}:
        value = _merge(base.get(key, _MISSING), ours.get(key, _MISSING),
                       theirs.get(key, _MISSING))
        if value is not _MISSING:
            merged[key] = value
    return merged


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the lab's lock file (beside its state file)."""
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


@contextmanager
def power_lock(spec: LabSpec, node: str) -> Iterator[None]:
    """Serialise switching `node` on and off between the lab's commands and its power
    switch (``<name>.<node>.power``): a `lab start` and a fencing reboot racing each other
    each saw the node off and booted a holder of their own, two machines with one name.
    One lock per node: with one for the whole lab, the 16 `lab start` of a cold start
    queued behind each other while each started its holder (its launcher started up to
    12 s after the first boot command); machines of a rack power on side by side."""
    path = power_lock_path(spec.name, spec.loopback, node)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _write_atomically(path: Path, record: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(record, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_SAVING = threading.Lock()  # one save at a time in this process (see the docstring)


def save(state: LabState) -> None:
    """Write `state`, keeping what other commands wrote since this one loaded it."""
    path = state_path(state.spec.name, state.spec.loopback)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _SAVING:
        _save_locked(state, path)


def _save_locked(state: LabState, path: Path) -> None:
    ours = _record(state)
    with _locked(path):
        record = ours
        if state.synced is not None:
            try:
                theirs = json.loads(path.read_text())
            except (FileNotFoundError, ValueError):
                theirs = None
            if isinstance(theirs, dict):
                record = _merge(state.synced, ours, theirs)
        _write_atomically(path, record)
    state.synced = ours


def load(name: str, loopback: bool) -> LabState | None:
    path = state_path(name, loopback)
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        nodes = {k: NodeState(**v) for k, v in raw["nodes"].items()}
        return LabState(LabSpec(**raw["spec"]), nodes, raw.get("switch", ""),
                        raw.get("partition", []), raw.get("loss", {}), raw.get("pdu_pid"),
                        synced=raw)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"unreadable lab state ({error}); remove it or run 'lab down'",
                          ) from None


def ha_cf(spec: LabSpec, state_dir: str) -> str:
    """The ha.cf of one node (identical for every node, except state_dir)."""
    lines = [
        "# written by `hacluster lab up`",
        f"keepalive {spec.keepalive_ms}ms",
        f"deadtime {spec.deadtime_ms}ms",
        f"warntime {max(spec.keepalive_ms, spec.deadtime_ms // 2)}ms",
        f"initdead {max(2 * spec.deadtime_ms, 2000)}ms",
        f"udpport {spec.port}",
        f"cluster_name {spec.name}",
        f"state_dir {state_dir}",
    ]
    for link in range(spec.links):
        dev = link_name(spec, link)
        if spec.media == "bcast":
            lines.append(f"bcast {dev}")
        else:
            lines += [f"ucast {dev} {address(spec, i, link)}"
                      for i in range(1, spec.nodes + 1)]
    lines.append("node " + " ".join(spec.node_names()))
    if spec.crm:
        lines.append("crm respawn")
    return "\n".join(lines) + "\n"


def authkeys(spec: LabSpec, secret: str) -> str:
    if spec.auth == "crc":
        return "auth 1\n1 crc\n"
    return f"auth 1\n1 {spec.auth} {secret}\n"


def write_node_files(spec: LabSpec, node: NodeState, secret: str, state_dir: str) -> None:
    """Create the node's directories and write ha.cf and authkeys (0600)."""
    base = Path(node.directory)
    for sub in ("etc", "state", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "etc" / "ha.cf").write_text(ha_cf(spec, state_dir))
    keys = base / "etc" / "authkeys"
    keys.write_text(authkeys(spec, secret))
    keys.chmod(0o600)


def clear_runtime_files(state_dir: Path) -> None:
    """Remove what a running node leaves in its state directory that a reboot does not keep:
    sockets and pid files (a stale pid may belong to another process after the reboot)."""
    for leftover in state_dir.glob("*"):
        if leftover.is_socket() or leftover.suffix in (".pub", ".ctl", ".pid"):
            leftover.unlink(missing_ok=True)


def new_secret() -> str:
    return secrets.token_hex(16)
