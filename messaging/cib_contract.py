"""The cib daemon's local read contract: the CIB version, the query it answers, the diffs it
publishes, and `follow_cib`, which keeps a daemon's copy of the CIB current. It lives in
messaging because the daemons are independent packages (stonithd follows the CIB without
importing cib); `cib.api` builds the rest of the cib's protocol (writes, peer messages) on
the same registry and re-exports all of this.

Sockets (one node, inside its state directory; `messaging.envelope` frames up to
`CIB_MAX_FRAME`):
- ``ipc://<state_dir>/cib.ctl``: `Query` -> `CibReply` (exit code, message, printed XML,
  version), from this node's replica.
- ``ipc://<state_dir>/cib.pub`` (topic `DIFF_TOPIC`): one `CibDiff` (Pacemaker's v2
  patchset as text, and the version after it) per change of this node's copy, in order.

Field order of every dataclass here is part of the wire contract: only append fields.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from messaging.envelope import protocol
from messaging.record import Record
from messaging.version import Version as Version  # re-exported: part of this contract

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (tools' start-up)
if TYPE_CHECKING:
    from typing import Any

API = protocol("cib")
CTL_SOCKET = "cib.ctl"
PUB_SOCKET = "cib.pub"
DIFF_TOPIC = "cib.diff"
GAP_CHECK_S = 30.0  # without a diff for this long, ask the version (a missed diff, a restart)
RETRY_S = 1.0  # the cib does not answer yet: ask again (a retry interval, not a readiness wait)
QUERY_TIMEOUT_S = 10.0


def ctl_address(state_dir: str | os.PathLike[str]) -> str:
    return f"ipc://{os.path.join(state_dir, CTL_SOCKET)}"  # no pathlib: tools' start-up


def pub_address(state_dir: str | os.PathLike[str]) -> str:
    return f"ipc://{os.path.join(state_dir, PUB_SOCKET)}"


@API.register("query")
class Query(Record):
    """A read-only request (cibadmin -Q with its -o, -A, -n, -e)."""

    __slots__ = ("no_children", "node_path", "scope", "xpath")

    def __init__(self, scope: str | None = None, xpath: str | None = None,
                 no_children: bool = False, node_path: bool = False) -> None:
        self.scope, self.xpath = scope, xpath
        self.no_children, self.node_path = no_children, node_path


@API.register("reply")
class CibReply(Record):
    """The answer to a query or write: Pacemaker's exit code and what cibadmin prints
    (`reason`: Pacemaker's short text of a failure, "Call failed: <reason>")."""

    __slots__ = ("exit_code", "message", "output", "paths", "reason", "version")

    def __init__(self, exit_code: int, message: str, output: str | None = None,
                 paths: tuple[str, ...] = (), version: Version | None = None,
                 reason: str = "") -> None:
        self.exit_code, self.message, self.output = exit_code, message, output
        self.paths, self.version, self.reason = paths, version, reason


@API.register("cib_diff")
class CibDiff(Record):
    """A change this node's CIB took: the v2 patchset (XML text) and the version after it."""

    __slots__ = ("patch", "version")

    def __init__(self, patch: str, version: Version) -> None:
        self.patch, self.version = patch, version


OnCib = Callable[[str, Version], Awaitable[None]]
Concerns = Callable[[str], bool]
_SOURCE = r'<source admin_epoch="(\d+)" epoch="(\d+)" num_updates="(\d+)"/>'


def patch_source(patch: str) -> Version | None:
    """The version a v2 patchset applies to (its <source>), None when it names none."""
    import re  # here, not at the top: a tool asking the cib never needs it (start-up)

    match = re.search(_SOURCE, patch)  # compiled once, then from re's own cache
    return Version(*(int(number) for number in match.groups())) if match else None


async def follow_cib(state_dir: str | os.PathLike[str], on_cib: OnCib, *, log: Any = None,
                     configuration_only: bool = True, gap_check: float = GAP_CHECK_S,
                     concerns: Concerns | None = None) -> None:
    """Await `on_cib(cib_xml, version)` with the whole CIB of the local cib daemon at start,
    then after every change (with `configuration_only`, after every change of the
    configuration: of (admin_epoch, epoch), which status updates leave alone), and after a
    gap: when no diff came for `gap_check` seconds and the cib's version is not the last one
    seen (a diff missed while the cib restarted). Subscribes before the first query, so no
    change falls between them. Runs until cancelled; retries while the cib daemon is not
    running.

    With `concerns`, a change whose diff follows the last version seen (its source is that
    version: no diff was missed in between) and of which `concerns(patch)` says it cannot
    matter to the caller is taken without a fetch; a diff after a gap is fetched for."""
    from messaging.client import AsyncClient, AsyncSubscriber
    from messaging.envelope import CIB_MAX_FRAME

    subscriber = AsyncSubscriber(pub_address(state_dir), API, (DIFF_TOPIC,),
                                 max_frame=CIB_MAX_FRAME)
    client = AsyncClient(ctl_address(state_dir), API, timeout=QUERY_TIMEOUT_S,
                         max_frame=CIB_MAX_FRAME)
    try:
        last = await _fetch(client, on_cib, log)
        while True:
            event = await subscriber.recv(gap_check)
            if isinstance(event, CibDiff):
                if _wanted(last, event.version, configuration_only) \
                        and not _harmless(last, event, concerns):
                    last = await _fetch(client, on_cib, log)
                else:
                    last = max(last, event.version)
            elif event is None and _wanted(last, await _version(client), configuration_only):
                last = await _fetch(client, on_cib, log)
    finally:
        subscriber.close()
        client.close()


def _wanted(last: Version, new: Version | None, configuration_only: bool) -> bool:
    """Whether the cib being at version `new` needs the whole CIB fetched again."""
    if new is None or new == last:
        return False
    if new < last and new[:2] == last[:2]:
        return False  # a diff published before our query answered
    return not configuration_only or new[:2] != last[:2]


def _harmless(last: Version, diff: CibDiff, concerns: Concerns | None) -> bool:
    """`diff` directly follows `last` and its changes do not concern the caller."""
    return concerns is not None and patch_source(diff.patch) == last \
        and not concerns(diff.patch)


async def _version(client: Any) -> Version | None:
    from messaging.errors import HAError

    try:
        reply = await client.request(Query(scope="crm_config", no_children=True))
    except HAError:
        return None
    return reply.version if isinstance(reply, CibReply) else None


async def _fetch(client: Any, on_cib: OnCib, log: Any) -> Version:
    """The whole CIB, asked until the cib answers with one; handed to `on_cib`."""
    import asyncio

    from messaging.errors import HAError

    while True:
        try:
            reply = await client.request(Query())
        except HAError as error:
            reply = error
        if isinstance(reply, CibReply) and reply.exit_code == 0 and reply.output \
                and reply.version is not None:
            await on_cib(reply.output, reply.version)
            return reply.version
        if log is not None:
            log.debug("cib_query_failed", reply=str(reply))
        await asyncio.sleep(RETRY_S)


__all__ = ["API", "DIFF_TOPIC", "CibDiff", "CibReply", "Query", "Version", "ctl_address",
           "follow_cib", "patch_source", "pub_address"]
