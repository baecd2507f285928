"""crmd names the DC to its node's cib over the real control socket: `CibLink.name_dc`
(the `dc_teller` task sends `cib.api.SetDc`) reaches the cib daemon's replication core,
each change in order, on a bound socket in a temporary state directory."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from cib.service import CibService
from crmd.cib_link import CibLink
from messaging.ipc import prepare_state_dir
from messaging.logs import get_logger


async def _core_dc_after(names: list[str | None], state_dir: Path) -> list[str | None]:
    service = CibService("n1", state_dir)
    service.server.bind()
    serving = asyncio.create_task(service.server.serve())
    link = CibLink(state_dir, get_logger(daemon="crmd", node="n1"))
    teller = asyncio.create_task(link.dc_teller())
    seen: list[str | None] = []
    try:
        for dc in names:
            link.name_dc(dc)
            while service.core.dc != dc:  # the condition, not a sleep for readiness
                await asyncio.sleep(0.01)
            seen.append(service.core.dc)
        return seen
    finally:
        teller.cancel()
        serving.cancel()
        link.close()
        service.server.close()
        service.runner.close()


def test_crmd_tells_its_cib_each_new_dc() -> None:
    with tempfile.TemporaryDirectory() as directory:
        state_dir = Path(directory) / "state"
        prepare_state_dir(state_dir)
        names: list[str | None] = ["n2", None, "n3"]
        seen = asyncio.run(asyncio.wait_for(_core_dc_after(names, state_dir), 30))
    assert seen == names
