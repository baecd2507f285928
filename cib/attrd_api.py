"""The attribute manager's local IPC contract and its clients (`cib.api` re-exports them):
what attrd_updater, crm_attribute -l reboot and crmd use to update, query and delete
transient node attributes.

Socket: ``ipc://<state_dir>/attrd.ctl`` (`messaging.ipc.Server`, `messaging.envelope`
frames): `AttrdUpdate`, `AttrdRefresh` and `AttrdSetDc` (crmd names the DC, whose node
becomes the writer) -> `AttrdDone`, `AttrdQuery` -> `AttrdValues`,
plus the built-in Ping. An update is answered once the local attrd has applied it and sent
it to every member (as Pacemaker's attrd acknowledges its clients), not once it is in the
CIB: the writer writes it later (at once, or after the attribute's dampening). Failures are
`ErrorReply`s (an unknown attribute: `NotFoundError`, exit 105).

Field order of every message is part of the wire contract: only append fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from messaging.envelope import protocol
from messaging.errors import PeerUnreachable, RemoteProtocolError

API = protocol("attrd")
CTL_SOCKET = "attrd.ctl"
PEER_CHANNEL = "attrd"
DEFAULT_TIMEOUT = 10.0


def ctl_address(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / CTL_SOCKET}"


@API.register("update")
@dataclass(frozen=True, slots=True)
class AttrdUpdate:
    """Set `name` of `node` ("": the daemon's node) to `value` (None deletes it; ``value++``
    and ``value+=N`` are expanded by attrd); `dampen` seconds (None keeps the attribute's);
    `keep_value` changes only the dampening (attrd_updater -Y); `set_id` names the
    instance_attributes set of a new attribute (attrd_updater -s)."""

    name: str
    value: str | None
    node: str = ""
    dampen: float | None = None
    private: bool = False
    keep_value: bool = False
    set_id: str | None = None


@API.register("query")
@dataclass(frozen=True, slots=True)
class AttrdQuery:
    """The values of `name`: of `node` ("": the daemon's node), or of every node."""

    name: str
    node: str = ""
    all_nodes: bool = False


@API.register("refresh")
@dataclass(frozen=True, slots=True)
class AttrdRefresh:
    """Have the writer write every attribute to the CIB again (attrd_updater -R)."""


@API.register("set_dc")
@dataclass(frozen=True, slots=True)
class AttrdSetDc:
    """crmd tells its node's attrd which node is DC (None: none known): attrd's writer is
    the DC's node (`cib.attrd.AttrdCore`)."""

    dc: str | None


@API.register("done")
@dataclass(frozen=True, slots=True)
class AttrdDone:
    """An update or refresh was accepted."""


@API.register("values")
@dataclass(frozen=True, slots=True)
class AttrdValues:
    """Answer to `AttrdQuery`: (node, value) pairs in node order."""

    name: str
    values: tuple[tuple[str, str], ...] = ()


def _check(reply: Any, expected: type) -> Any:
    if not isinstance(reply, expected):
        raise RemoteProtocolError(f"attrd answered with {type(reply).__name__}, "
                                  f"not {expected.__name__}")
    return reply


def _present(state_dir: Path) -> None:
    if not (state_dir / CTL_SOCKET).exists():
        raise PeerUnreachable(f"attrd is not running (no {CTL_SOCKET} in {state_dir})")


class AttrdClient:
    """Blocking client of one node's attrd (for tools and tests)."""

    def __init__(self, state_dir: str | Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        from messaging.client import Client

        self.state_dir = Path(state_dir)
        _present(self.state_dir)
        self._client = Client(ctl_address(self.state_dir), API, timeout=timeout)

    def update(self, name: str, value: str | None, node: str | None = None,
               dampen: float | None = None, private: bool = False,
               set_id: str | None = None) -> None:
        """Set (or, with value None, delete) one node's attribute."""
        _check(self._client.request(AttrdUpdate(name, value, node or "", dampen, private,
                                                set_id=set_id)), AttrdDone)

    def delete(self, name: str, node: str | None = None) -> None:
        self.update(name, None, node)

    def query(self, name: str, node: str | None = None, all_nodes: bool = False
              ) -> dict[str, str]:
        """node -> value; raises NotFoundError when attrd knows no such attribute."""
        reply = _check(self._client.request(AttrdQuery(name, node or "", all_nodes)),
                       AttrdValues)
        return dict(reply.values)

    def request(self, message: AttrdUpdate | AttrdQuery | AttrdRefresh) -> Any:
        """Any request of the contract, its reply checked against the message kind."""
        expected = AttrdValues if isinstance(message, AttrdQuery) else AttrdDone
        return _check(self._client.request(message), expected)

    def refresh(self) -> None:
        self.request(AttrdRefresh())

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AttrdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAttrdClient:
    """asyncio client of one node's attrd (for daemons: crmd's fail counts)."""

    def __init__(self, state_dir: str | Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        from messaging.client import AsyncClient

        self.state_dir = Path(state_dir)
        self._client = AsyncClient(ctl_address(self.state_dir), API, timeout=timeout)

    async def update(self, name: str, value: str | None, node: str | None = None,
                     dampen: float | None = None, private: bool = False,
                     set_id: str | None = None) -> None:
        reply = await self._client.request(AttrdUpdate(name, value, node or "", dampen,
                                                       private, set_id=set_id))
        _check(reply, AttrdDone)

    async def delete(self, name: str, node: str | None = None) -> None:
        await self.update(name, None, node)

    async def set_dc(self, dc: str | None) -> None:
        _check(await self._client.request(AttrdSetDc(dc)), AttrdDone)

    async def query(self, name: str, node: str | None = None, all_nodes: bool = False
                    ) -> dict[str, str]:
        reply = await self._client.request(AttrdQuery(name, node or "", all_nodes))
        return dict(_check(reply, AttrdValues).values)

    def close(self) -> None:
        self._client.close()


__all__ = ["API", "CTL_SOCKET", "PEER_CHANNEL", "AsyncAttrdClient", "AttrdClient", "AttrdDone",
           "AttrdQuery", "AttrdRefresh", "AttrdSetDc", "AttrdUpdate", "AttrdValues", "ctl_address"]
