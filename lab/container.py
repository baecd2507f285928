"""The Docker lab's side of a node: `python -m lab.container init|node` (docker-compose.yml).

`init DIR` runs once, in the compose file's `init` service, before any node starts. It
writes into DIR (a volume every node mounts read-only at /config):

* ``ha.cf``: ucast to every node by its service name (heartbeat resolves the names when it
  starts; the compose file pins each name to a fixed address with extra_hosts, so a name
  resolves even while that node's container is down), `crm respawn`;
* ``authkeys``: a random HMAC-SHA256 secret, mode 0600, written only when DIR has none, so
  it is generated once and every later `up` reuses it;
* ``cib.xml``: the demo configuration fitted to the nodes (lab.cib_seed, the same seed as
  `hacluster lab up`).

`node DIR` is each node container's command. It installs ha.cf and authkeys (mode 0600:
heartbeat refuses keys others can read) in /etc/ha.d, gives the node its first CIB from
DIR/cib.xml unless it has one (a restarted container keeps its own CIB, as a rebooted node
does), clears sockets and pid files a killed container left behind, then becomes the node's
launcher (`hacluster node start`), so the container lives exactly as long as the launcher.
It also makes /run/resource-agents, which a booted Debian has and a container has not.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from messaging.authkeys import write_authkeys
from messaging.command import fail
from messaging.config import DEFAULT_STATE_DIR, check_node_name
from messaging.errors import HAError, UsageError

from .cib_seed import seed_cib
from .layout import clear_runtime_files

CLUSTER_NAME = "demo"
DEFAULT_NODES = "n1 n2 n3"
ETC = Path("/etc/ha.d")
RSCTMP = Path("/run/resource-agents")  # HA_RSCTMP of the OCF agents


def ha_cf(nodes: list[str]) -> str:
    """The ha.cf every container shares (a ucast line naming a node's own address is
    ignored by that node, so one file serves all)."""
    # 10 s before a silent node is dead (the namespace lab: 1 s): containers share the
    # Docker host's CPUs with whatever else it runs, and a node starved for a few seconds
    # must not be fenced for it; initdead stays at least twice deadtime, as Heartbeat asks.
    lines = [
        "# written by `python -m lab.container init` (docker-compose.yml's init service)",
        "keepalive 1s",
        "warntime 5s",
        "deadtime 10s",
        "initdead 20s",
        "udpport 694",
        f"cluster_name {CLUSTER_NAME}",
        *(f"ucast eth0 {name}" for name in nodes),
        "node " + " ".join(nodes),
        "crm respawn",
    ]
    return "\n".join(lines) + "\n"


def node_names(text: str) -> list[str]:
    """Node names from a space- or comma-separated list, each a valid host name, unique."""
    names = text.replace(",", " ").split()
    if not names:
        raise UsageError("no node names given")
    for name in names:
        try:
            check_node_name(name)
        except ValueError as error:
            raise UsageError(str(error)) from None
    if len(set(names)) != len(names):
        raise UsageError(f"a node is named twice in {text!r}")
    return names


def write_config(directory: Path, nodes: list[str]) -> list[str]:
    """Write ha.cf and cib.xml, and authkeys unless present; the names of what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ha.cf").write_text(ha_cf(nodes))
    (directory / "cib.xml").write_bytes(seed_cib(nodes, CLUSTER_NAME))
    written = ["ha.cf", "cib.xml"]
    if not (directory / "authkeys").exists():
        write_authkeys(directory / "authkeys")
        written.append("authkeys")
    return written


def install_node(config: Path, etc: Path, state_dir: Path, rsctmp: Path = RSCTMP) -> None:
    """Put a node's files in place from the shared config directory (see the module doc)."""
    from cib.api import seed_store

    # what systemd-tmpfiles makes at boot from resource-agents' tmpfiles.d (no systemd in a
    # container): the OCF agents keep their state there, Debian's Dummy cannot start without
    rsctmp.mkdir(mode=0o755, parents=True, exist_ok=True)
    etc.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config / "ha.cf", etc / "ha.cf")
    keys = etc / "authkeys"
    keys.unlink(missing_ok=True)
    fd = os.open(keys, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write((config / "authkeys").read_bytes())
    state_dir.mkdir(parents=True, exist_ok=True)
    clear_runtime_files(state_dir)
    if not (state_dir / "cib").exists():
        seed = (config / "cib.xml").read_bytes()
        (state_dir / "cib.xml").write_bytes(seed)  # what stonithd follows
        seed_store(state_dir, seed)


@click.group()
def main() -> None:
    """The Docker lab's node side (see docker-compose.yml)."""


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--nodes", default=lambda: os.environ.get("HACLUSTER_NODES", DEFAULT_NODES),
              show_default=f"$HACLUSTER_NODES or {DEFAULT_NODES}")
def init(directory: Path, nodes: str) -> None:
    """Write ha.cf, cib.xml and (once) authkeys into DIRECTORY."""
    try:
        written = write_config(directory, node_names(nodes))
    except (HAError, OSError) as error:
        fail(error)
    click.echo(f"wrote {', '.join(written)} in {directory}")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def node(directory: Path) -> None:
    """Install the node's files from DIRECTORY, then run its launcher in the foreground."""
    try:
        install_node(directory, ETC, Path(DEFAULT_STATE_DIR))
    except (HAError, OSError) as error:
        fail(error)
    launcher = [sys.executable, "-c", "from messaging.launcher import node; node()", "start",
                "-c", str(ETC / "ha.cf"), "-k", str(ETC / "authkeys")]
    os.execv(sys.executable, launcher)


if __name__ == "__main__":
    main()
