"""The cib's control socket grants by the caller's kernel credentials: a member of group
haclient who is not root or hacluster may query but not write (exit 4, Permission denied,
the CIB untouched). A forked child becomes user nobody with haclient as a supplementary
group and talks to a real bound socket (needs root and the haclient group)."""

from __future__ import annotations

import asyncio
import grp
import json
import os
import pwd
import tempfile
from pathlib import Path

import pytest

from cib.api import API, Query, Write, ctl_address
from cib.replication_messages import WireRequest
from cib.service import CibService, writer_uids

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")


def _haclient() -> int:
    try:
        return grp.getgrnam("haclient").gr_gid
    except KeyError:
        pytest.skip("group haclient does not exist")


def _as_nobody(endpoint: str, gid: int, report: int) -> None:
    """In the child: become nobody (+haclient), query and write, report the exit codes.
    (The blocking Client holds no zmq context, so a forked child may use it.)"""
    from messaging.client import Client

    try:
        nobody = pwd.getpwnam("nobody")
        os.setgroups([gid])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
        with Client(endpoint, API, timeout=10) as client:
            query = client.request(Query(scope="nodes"))
            write = client.request(Write(WireRequest("create", '<node id="9" uname="x"/>',
                                                     scope="nodes")))
        codes = [query.exit_code, write.exit_code, write.reason]
    except BaseException as error:  # report anything to the parent
        codes = [repr(error)]
    os.write(report, json.dumps(codes).encode())
    os._exit(0)


async def _scenario(state_dir: Path, gid: int) -> list[object]:
    service = CibService("n1", state_dir)
    service.server.bind()
    serving = asyncio.create_task(service.server.serve())
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        _as_nobody(ctl_address(state_dir), gid, write_end)
    os.close(write_end)
    loop = asyncio.get_running_loop()
    try:
        data = await loop.run_in_executor(None, os.read, read_end, 4096)
        await loop.run_in_executor(None, os.waitpid, pid, 0)
        return list(json.loads(data))
    finally:
        os.close(read_end)
        serving.cancel()
        service.server.close()
        service.runner.close()


def test_a_haclient_member_may_query_but_not_write() -> None:
    gid = _haclient()
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o755)  # nobody must reach the state directory (0750 haclient)
        state_dir = Path(directory) / "state"
        from messaging.ipc import prepare_state_dir

        prepare_state_dir(state_dir)
        codes = asyncio.run(asyncio.wait_for(_scenario(state_dir, gid), 60))
    assert codes == [0, 4, "Permission denied"]
    assert 0 in writer_uids() and pwd.getpwnam("nobody").pw_uid not in writer_uids()

