"""crm_mon's tickets, bans and fencing-history sections (Pacemaker 2.1.5's layout).

Tickets: every <ticket_state> in the status plus every ticket an rsc_ticket constraint
names (revoked until granted), as "id: granted|revoked[ [standby]][ last-granted="<ctime>"]"
under "Tickets:" (text, with -c) and <tickets><ticket .../></tickets> (XML, always).
Pacemaker lists them in its hash table's order, which no other process can reproduce: we
sort by id.

Fencing history comes from the local fencer (stonithd.api) in live mode only; with
CIB_file Pacemaker's crm_mon has no fencer to ask and shows none, and neither do we.
-m/--fence-history LEVEL: 0 none; 1 (default) "Failed Fencing Actions:" and "Pending
Fencing Actions:"; 2 adds successes under "Fencing History:"; 3 shows every operation,
not only the latest of each target/action/state. Event texts are stonith_admin's
(stonithd.api.describe_event); a failure made good later says by whom, judged within the
list shown (reduced below level 3), as Pacemaker's crm_mon judges its reduced history.

Bans (--include=bans): each negative location score, "id<TAB>prevents R from running on N".

Pure apart from `fence_history`, which asks the fencer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from pengine.api import ClusterStatus
    from stonithd.api import HistoryEntry


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    granted: bool
    standby: bool
    last_granted: int | None = None


def tickets(root: etree._Element) -> tuple[Ticket, ...]:
    """The tickets the CIB knows, sorted by id."""
    found: dict[str, Ticket] = {}
    for state in root.iterfind("status/tickets/ticket_state"):
        ident = state.get("id") or ""
        stamp = state.get("last-granted")
        found[ident] = Ticket(ident, (state.get("granted") or "").lower() == "true",
                              (state.get("standby") or "").lower() == "true",
                              int(stamp) if stamp and stamp.lstrip("-").isdigit() else None)
    for constraint in root.iterfind("configuration/constraints/rsc_ticket"):
        ident = constraint.get("ticket") or ""
        if ident and ident not in found:
            found[ident] = Ticket(ident, False, False)
    return tuple(found[key] for key in sorted(found))


def _state(ticket: Ticket) -> str:
    return ("granted" if ticket.granted else "revoked") + (" [standby]" if ticket.standby
                                                           else "")


def _ctime(stamp: int) -> str:
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(stamp))


def ban_lines(status: ClusterStatus) -> list[str]:
    """--include=bans: each negative location constraint, the way Pacemaker words it."""
    if not status.bans:
        return []
    return ["Negative Location Constraints:", *(
        f"  * {ban.id}\tprevents {ban.resource} from running "
        f"{'in Promoted role ' if ban.promoted_only else ''}on {ban.node}" for ban in status.bans)]


def ticket_lines(found: tuple[Ticket, ...]) -> list[str]:
    if not found:
        return []
    lines = ["", "Tickets:"]
    for ticket in found:
        when = f' last-granted="{_ctime(ticket.last_granted)}"' \
            if ticket.last_granted is not None else ""
        lines.append(f"  * {ticket.id}: {_state(ticket)}{when}")
    return lines


def tickets_xml(parent: etree._Element, found: tuple[Ticket, ...]) -> None:
    if not found:
        return
    section = etree.SubElement(parent, "tickets")
    for ticket in found:
        element = etree.SubElement(section, "ticket", id=ticket.id,
                                   status="granted" if ticket.granted else "revoked",
                                   standby="true" if ticket.standby else "false")
        if ticket.last_granted is not None:
            element.set("last-granted", _ctime(ticket.last_granted))


def fence_history() -> tuple[HistoryEntry, ...] | None:
    """Every fencing operation the local fencer knows, newest first; None when there is
    no fencer to ask (file mode, or it is not running)."""
    import os

    if os.environ.get("CIB_file"):  # noqa: SIM112  Pacemaker's name
        return None
    from messaging.errors import HAError
    from stonithd.api import HistoryReply, HistoryRequest, StonithClient

    try:
        with StonithClient() as client:
            reply = client.call(HistoryRequest("*"), 10.0)
    except HAError:
        return None
    if not isinstance(reply, HistoryReply):
        return None
    return tuple(sorted(reply.entries, key=lambda e: -e.completed if e.completed else 0))


def _reduced(entries: tuple[HistoryEntry, ...]) -> list[HistoryEntry]:
    """The latest operation of each (target, action, state), as crm_mon shows by default."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for entry in entries:
        key = (entry.target, entry.action, entry.state)
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return kept


def fencing_lines(entries: tuple[HistoryEntry, ...] | None, level: int,
                  failed: bool) -> list[str]:
    """The fencing sections for -m LEVEL (see the module docstring): the failed ones
    (`failed`, shown before tickets) or the pending/history ones (after them)."""
    if not entries or level <= 0:
        return []
    from stonithd.api import OpState, describe_event, later_success

    full = level >= 3
    shown = list(entries) if full else _reduced(entries)
    if failed:
        heading, chosen = "Failed Fencing Actions:", [e for e in shown
                                                      if e.state == OpState.FAILED]
    elif level >= 2:
        heading, chosen = "Fencing History:", shown
    else:
        heading, chosen = "Pending Fencing Actions:", [e for e in shown
                                                       if e.state == OpState.PENDING]
    if not chosen:
        return []
    later = {id(e): later_success(i, shown) for i, e in enumerate(shown)}
    return ["", heading, *(f"  * {describe_event(e, full, later[id(e)])}" for e in chosen)]


def fencing_xml(parent: etree._Element, entries: tuple[HistoryEntry, ...] | None) -> None:
    if entries is None:
        return
    from stonithd.api import OpState

    section = etree.SubElement(parent, "fence_history")
    words = {OpState.DONE: "success", OpState.FAILED: "failed", OpState.PENDING: "pending"}
    for entry in entries:
        event = etree.SubElement(section, "fence_event", action=entry.action,
                                 target=entry.target, client=entry.client,
                                 origin=entry.origin, status=words.get(entry.state,
                                                                       entry.state))
        if entry.executioner:
            event.set("delegate", entry.executioner)
        if entry.completed:
            event.set("completed", time.strftime("%Y-%m-%d %H:%M:%SZ",
                                                 time.gmtime(entry.completed)))
