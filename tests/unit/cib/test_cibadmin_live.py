"""cibadmin in live mode against an in-process cib daemon (one node, its own master): a
write given as well-formed text travels as text and the command never loads lxml; input
that only libxml2's recovering parser accepts still takes the old path, with the same
outcome as before (the daemon refuses what fails the schema, exit 78)."""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
import sys
import tempfile
from pathlib import Path

from lxml import etree

from cib.replication_messages import ViewChanged
from cib.service import CibService
from messaging.ipc import prepare_state_dir

PROBE = """
import sys
from cib.cli import main
code = main(sys.argv[1:])
print("lxml loaded" if "lxml.etree" in sys.modules else "no lxml", code)
"""


def _cibadmin(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HACLUSTER_STATE_DIR": str(state_dir)}
    env.pop("CIB_file", None)
    return subprocess.run([sys.executable, "-c", PROBE, *args], env=env, text=True,
                          capture_output=True, timeout=60, check=False)


async def _scenario(state_dir: Path) -> list[subprocess.CompletedProcess[str]]:
    service = CibService("n1", state_dir)
    service.server.bind()
    service.publisher.bind()
    serving = asyncio.create_task(service.server.serve())
    service.runner.feed(ViewChanged(service.runner.monotonic(), 1, ((1, "n1"),)))
    loop = asyncio.get_running_loop()
    commands = [
        ("-C", "-o", "crm_config", "-X",
         '<cluster_property_set id="live"><nvpair id="live-a" name="a" value="1"/>'
         "</cluster_property_set>"),
        ("-M", "-X", '<nvpair id="live-a" value="2"/>'),
        ("-Q", "-A", "//nvpair[@id='live-a']"),
        ("-Q", "-A", "/cib", "-n"),
        ("-C", "-o", "crm_config", "-X", "<bad"),
    ]
    try:
        return [await loop.run_in_executor(None, lambda c=command: _cibadmin(state_dir, *c))
                for command in commands]
    finally:
        serving.cancel()
        service.close()
        service.server.close()
        service.publisher.close()
        service.runner.close()


def test_live_cibadmin_sends_text_without_lxml() -> None:
    with tempfile.TemporaryDirectory() as directory:
        state_dir = Path(directory) / "state"
        prepare_state_dir(state_dir)
        create, modify, query, root, bad = asyncio.run(asyncio.wait_for(_scenario(state_dir), 120))
    assert create.stdout.strip() == "no lxml 0", create.stderr
    assert modify.stdout.strip() == "no lxml 0", modify.stderr
    assert query.stdout.splitlines() == ['<nvpair id="live-a" name="a" value="2"/>',
                                         "no lxml 0"]
    # Pacemaker's cib records who made the last configuration change (crm_mon's "Last
    # change: ... by USER via cibadmin on NODE"): the user from the socket's credentials
    line = root.stdout.splitlines()[0]
    stamped = etree.fromstring(line if line.endswith("/>") else line + "</cib>")
    assert (stamped.get("update-origin"), stamped.get("update-client"),
            stamped.get("update-user")) == ("n1", "cibadmin", pwd.getpwuid(os.geteuid()).pw_name)
    assert stamped.get("cib-last-written")
    assert bad.stdout.strip() == "lxml loaded 78"
    assert "Call failed" in bad.stderr


START_PROBE = """
import sys
from cib.cli import main
code = main(sys.argv[1:])
HEAVY = ("lxml.etree", "messaging.config", "shutil", "argparse", "pathlib", "socket", "typing",
         "re")
print(sorted(m for m in HEAVY if m in sys.modules), code)
"""


def test_the_live_path_loads_neither_the_ha_cf_parser_nor_shutil(tmp_path: Path) -> None:
    """Start-up cost: a tool finds its node's sockets without messaging.config, and argparse
    sizes its help without shutil (and the compression modules shutil imports); a plain
    command line is parsed without argparse, and the client reaches the daemon without
    pathlib and socket.py (os.path and the C module _socket do)."""
    env = {**os.environ, "HACLUSTER_STATE_DIR": str(tmp_path)}  # no daemon there: exit 102
    env.pop("CIB_file", None)
    done = subprocess.run([sys.executable, "-c", START_PROBE, "-M", "-X", '<nvpair id="a"/>'],
                          env=env, text=True, capture_output=True, timeout=60, check=False)
    assert done.stdout.strip() == "[] 102", done.stderr
