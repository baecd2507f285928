"""The attrd daemon's shell in one process: the IPC contract (update, query, delete,
refresh, unknown attribute, crmd naming the DC), and its writes reaching a cib daemon's
control socket in Pacemaker's transient_attributes shape (a stand-in cib server records
them)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cib import api as cib_api
from cib.attrd import AttributeUpdate, Shared
from cib.attrd_api import AsyncAttrdClient, AttrdQuery, AttrdUpdate
from cib.attrd_service import AttrdService, open_peer_frame, peer_frame
from messaging.effects import Client
from messaging.errors import NotFoundError, RemoteProtocolError
from messaging.ipc import Server


class RecordingCib:
    """A cib control socket that acknowledges every write and remembers it."""

    def __init__(self, state_dir: Path) -> None:
        self.writes: asyncio.Queue[Any] = asyncio.Queue()
        self.clients: set[str | None] = set()  # the names the writers signed with
        self.queries = 0
        self.server = Server(cib_api.ctl_address(state_dir), cib_api.API, self.answer,
                             daemon="cib")

    def answer(self, request: Any, client: Client) -> Any:
        if isinstance(request, cib_api.Query):  # attrd asks for node ids it does not know
            self.queries += 1
            return cib_api.CibReply(0, "OK", '<nodes><node id="101" uname="n1"/></nodes>')
        assert isinstance(request, cib_api.Write)
        self.writes.put_nowait(request.request)
        self.clients.add(request.client)
        return cib_api.CibReply(0, "OK")


async def _scenario(state_dir: Path) -> None:
    cib = RecordingCib(state_dir)
    cib.server.bind()
    service = AttrdService("n1", state_dir)
    running = asyncio.create_task(service.run())
    served = asyncio.create_task(cib.server.serve())
    client = AsyncAttrdClient(state_dir)
    try:
        while not (state_dir / "attrd.ctl").exists():
            await asyncio.sleep(0.01)
        service._views.put_nowait((1, ("n1",)))  # ccm's view, as follow_membership feeds it
        await client.update("fail-count-d#monitor_10000", "value++")
        await client.update("fail-count-d#monitor_10000", "value++")
        assert await client.query("fail-count-d#monitor_10000") == {"n1": "2"}
        first = await asyncio.wait_for(cib.writes.get(), 10)
        assert first.op == "modify" and first.scope == "status"
        assert 'id="status-101-fail-count-d.monitor_10000"' in first.data
        await client.update("standby", "on", node="n1", dampen=0.0)
        await client.delete("standby")
        assert await client.query("standby", all_nodes=True) == {}
        with pytest.raises(NotFoundError):
            await client.query("never-set")
        # attrd_updater -s: the attribute lands in the named set (Pacemaker's attrd shape)
        await client.update("maint", "on", set_id="my-set")
        while "maint" not in ((write := await asyncio.wait_for(cib.writes.get(), 10)).data
                              or ""):
            pass
        assert '<instance_attributes id="my-set"><nvpair id="my-set-maint"' in write.data
        assert cib.clients == {"attrd"}  # update-client of what attrd writes
        await client.set_dc("n1")  # crmd names the DC: the core's writer follows it
        assert (service.core.dc, service.core.writer) == ("n1", "n1")
        service._views.put_nowait((2, ("n1",)))  # a view of known members: no query
        while service.core.view != 2:
            await asyncio.sleep(0.01)
        assert cib.queries == 1
    finally:
        client.close()
        service.host.stop()
        await running
        served.cancel()
        cib.server.close()


def test_attrd_service_answers_clients_and_writes_through_the_cib(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(_scenario(tmp_path), 60))


def test_peer_frames_round_trip_and_refuse_client_messages() -> None:
    message = Shared(3, AttributeUpdate("a", "n2", "1", 5.0, private=True))
    assert open_peer_frame(peer_frame(message)) == message
    with pytest.raises(RemoteProtocolError):
        open_peer_frame(peer_frame(AttributeUpdate("a", "n2", "1")))
    assert AttrdUpdate("a", None).node == "" and AttrdQuery("a").all_nodes is False
