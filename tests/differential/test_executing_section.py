"""The "Executing Cluster Transition" section of `crm_simulate -S`, against Pacemaker's.

tests/differential/executing/NAME.xml is a generated CIB, NAME.simulate the whole output of
Debian's Pacemaker 2.1.5 `crm_simulate -x NAME.xml -S` for it (recorded with that tool).
Corpus cases: Pacemaker's own .summary files. Lines compare whitespace-insensitively, in order
(the order is the simulator's graph walk over our graph, so it checks the graph too).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).with_name("executing")
CASES = sorted(HERE.glob("*.xml"))
CORPUS = Path(__file__).resolve().parents[3] / "shared/conformance/scheduler"
# load_stopped pseudo actions, the pseudo start of a live migration, both together
CORPUS_CASES = ["utilization-order1", "balanced", "placement-capacity", "migrate-1",
                "1-a-then-bm-move-b", "migrate-begin"]


def _executing(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("Executing Cluster Transition:") + 1
    out = []
    for line in lines[start:]:
        if not line.startswith("  *"):
            break
        out.append(" ".join(line.split()))
    return out


# Debian's crm_simulate -S exits 1 on these ("Transition failed: terminated": actions wait
# on an input left out of the graph); every other case here exits 0 with it
TERMINATED = {"load-stopped-held-by-a-blocked-stop-never-fires",
              "pending-start-of-an-unmanaged-resource-holds-what-waits-for-it",
              "required-action-of-an-unmanaged-instance-holds-the-clone-running"}


def _run_ours(xml: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from pengine.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, "-x", str(xml), "-S", *extra],
                          capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])


def _ours(xml: Path) -> str:
    done = _run_ours(xml)
    assert done.returncode == (1 if xml.stem in TERMINATED else 0), done.stderr
    return done.stdout


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_executed_actions_match_pacemaker(case: Path) -> None:
    expected = _executing(case.with_suffix(".simulate").read_text())
    assert _executing(_ours(case)) == expected


@pytest.mark.parametrize("name", CORPUS_CASES)
def test_corpus_executed_actions_match_pacemaker(name: str) -> None:
    if not (CORPUS / "xml").is_dir():
        pytest.skip(f"scheduler corpus not found at {CORPUS}")
    expected = _executing((CORPUS / f"summary/{name}.summary").read_text())
    assert _executing(_ours(CORPUS / f"xml/{name}.xml")) == expected


# whole `-S` output, not only the executed actions: status sections included
WHOLE_OUTPUT_CASES = ["unmanaged-clone-monitors-rescheduled-and-load-stopped",
                      "maintenance-mode-banner-and-pending-start-revised-as-started",
                      "promotable-instances-get-the-monitor-of-their-role",
                      "probes-of-a-stopping-resource-gate-stops-ordered-after-it",
                      "resources-are-probed-on-a-node-in-maintenance",
                      "unmanaged-orphan-instance-gets-no-recurring-monitor",
                      "running-promoted-monitor-of-a-renumbered-instance-stays-optional",
                      "clone-stopped-list-names-a-missing-agent-only-by-the-primitive-id",
                      "orphan-member-never-seen-inherits-the-clone-is-managed",
                      "result-of-a-renumbered-instance-goes-to-its-long-id-history",
                      "orphan-history-cleaned-up-after-its-stop-not-its-monitor-cancelled",
                      "failed-orphan-fail-count-cleared-and-history-kept",
                      "unique-clone-orphan-history-cleaned-up",
                      "cancel-recorded-as-an-op-keeps-the-resource-active",
                      "unmanaged-orphan-history-not-cleaned-up",
                      "probe-gates-the-stop-of-a-resource-whose-start-follows-the-probed-start",
                      "clone-start-unrunnable-when-no-instance-start-can-run",
                      "group-stopped-left-out-when-an-unmanaged-member-cannot-stop",
                      "group-start-kept-for-a-pending-start-left-with-no-node",
                      "unrunnable-first-blocks-the-stop-of-each-group-instance-of-a-clone",
                      # which clones print "Stopped (disabled)" / "Unpromoted (target-role)"
                      # and count DISABLED instances (target-role on the clone, its group or
                      # primitive, not a group member; Unpromoted only in promotable clones)
                      "clone-of-a-disabled-group-lists-its-stopped-nodes-as-disabled",
                      "clone-of-a-disabled-primitive-lists-its-stopped-nodes-as-disabled",
                      "disabled-member-of-a-cloned-group-leaves-the-stopped-list-plain",
                      "promotable-clone-held-unpromoted-counts-as-disabled",
                      "promotable-group-held-unpromoted-lists-its-target-role",
                      "unique-promotable-instances-held-unpromoted-show-their-target-role",
                      # an unconfigured recurring monitor is cancelled unless the resource
                      # stops for good
                      "stopping-group-member-gets-no-cancel-of-an-unconfigured-monitor",
                      "moving-resource-keeps-the-cancel-of-an-unconfigured-monitor",
                      # orphan instances are the clone's children: named like its anonymous
                      # instances unless their history named them, demoted inside its demote
                      "orphan-instance-without-a-clone-name-is-named-like-an-anonymous-instance",
                      "promoted-orphan-instance-demotes-inside-the-clone-demote-pseudo-actions",
                      "clone-with-orphans-keeps-an-unmanaged-instances-offline-node-stopped",
                      "asymmetric-clone-lists-the-node-of-an-orphan-probe-as-stopped",
                      # an instance found under another history id is keyed by that name
                      "pseudo-stop-of-a-renamed-instance-is-keyed-by-its-history-name",
                      "instance-found-stopped-under-a-numbered-history-drops-that-name",
                      # pe_action_print_always: in the graph while optional
                      "pending-start-goes-into-the-graph-without-a-summary-line",
                      # load_stopped_<node> only for nodes in the resource's allowed nodes
                      "no-load-stopped-for-nodes-a-resource-is-not-allowed-on",
                      # nothing but fencing and shutdown goes into the graph for an unclean
                      # node; an instance an interleaved ordering inhibits blocks its cancels
                      "maintenance-cancel-left-out-of-the-graph-on-an-unclean-node",
                      "interleave-inhibited-instance-blocks-its-maintenance-cancel",
                      # a required input left out of the graph stays an input: what waits
                      # for it never fires (the transition is terminated)
                      "load-stopped-held-by-a-blocked-stop-never-fires",
                      # fencing without concurrent-fencing runs as a chain; a fencing device
                      # (requires quorum) starts after fencing a node it has no history on and
                      # its stop there is implied at once; only resources requiring fencing
                      # order their (top resource's last) stop after it
                      "fencing-runs-as-a-chain-and-a-device-starts-after-fencing-a-node-it-is-unknown-on",
                      "fencing-orders-the-last-stop-of-a-multi-active-primitive",
                      # pcmk__promotable_restart_ordering: demote -> demoted -> start, promote
                      "promotable-clone-start-and-promote-wait-for-its-demoted",
                      # a -INFINITY colocation orders the stop of one before the start of the
                      # other on the same node (anti_colocation_order)
                      "anti-colocated-start-waits-for-the-stop-on-its-node",
                      # a resource's recurring actions, then its migration's, are created
                      # after its stop and start: the graph lists the newest first
                      "partial-migration-creates-its-migrate-from-after-the-stop-and-start",
                      # an ordered clone's stop chain bridges instances that do not stop
                      "ordered-clone-stop-chain-skips-an-instance-that-starts",
                      "ordered-clone-stop-chain-skips-an-instance-that-keeps-running",
                      # the start standing for an unmanaged resource's pending one is printed
                      # always: out of the graph, yet an input of what waits for it
                      "pending-start-of-an-unmanaged-resource-holds-what-waits-for-it",
                      # only an instance's own pending action lists it on its own
                      "cloned-group-with-pending-member-starts-stays-in-the-started-list",
                      # an unmanaged resource's required action: out of the graph, an input
                      # all the same (seed 2034 shrunk)
                      "required-action-of-an-unmanaged-instance-holds-the-clone-running",
                      # an orphaned group instance is built from the configured group: its
                      # header is flagged (unmanaged) by the group's own flag only
                      "orphaned-group-instance-takes-the-configured-groups-managed-flag",
                      # an asymmetric clone lists as Stopped the nodes in its own allowed
                      # nodes (an instance's hard error bans the clone there), else the nodes
                      # its instances are known on
                      "asymmetric-clone-stopped-list-is-the-nodes-an-instance-error-banned",
                      # the fencing of a node precedes the clone's stop when an orphan
                      # instance stops there (the orphan is one of the clone's children)
                      "fencing-precedes-the-clone-stop-of-an-orphan-instance-on-the-fenced-node",
                      # a clone's instances enter the graph in assignment order, unless
                      # probing the clone sorted them by number
                      "clone-instances-act-in-assignment-order-without-startup-probes",
                      "clone-instances-act-in-number-order-once-probes-sort-them",
                      # a require-all=false set's pseudo action waits for a clone's own start
                      "one-or-more-pseudo-action-of-a-set-waits-for-the-clone-start-not-its-instances",
                      # a stop on a node shutting down holds the shutdown unless its
                      # resource is unmanaged without being blocked
                      "blocked-stop-holds-the-shutdown-of-its-node",
                      "unmanaged-resource-leaves-the-shutdown-of-its-node-alone",
                      # an asymmetric cluster's clone lists the nodes its history banned it
                      # from, not every node it has history on
                      "asymmetric-clone-lists-only-the-nodes-its-history-bans-as-stopped",
                      # shutdown-lock: a lock past shutdown-lock-limit (strictly) expires, one
                      # of a resource active elsewhere is cancelled, both with a DC lrm_delete
                      # of the history (an offline node's too; none if unmanaged) that the
                      # simulation only reports; the status shows the history's lock on the
                      # node it prints
                      "shutdown-lock-expired-or-cancelled-leaves-an-lrm-delete-of-its-history",
                      "shutdown-lock-at-exactly-its-limit-still-holds",
                      "shutdown-lock-shown-on-its-node-and-kept-by-the-simulated-lrm-delete",
                      "shutdown-lock-expired-on-an-online-node-deletes-its-history-there",
                      "unmanaged-resource-gets-no-lrm-delete-of-its-expired-lock",
                      # multiple-active=stop_unexpected: while the restart is scheduled, no
                      # stop where the resource is assigned and a pseudo start there (even
                      # when that node is not one it runs on)
                      "stop-unexpected-keeps-a-multiply-active-resource-on-its-assigned-node-with-a-pseudo-start",
                      "stop-unexpected-start-where-the-resource-is-assigned-is-a-pseudo-action-even-on-a-new-node",
                      # a resource needing unfencing creates the (optional) unfencing of each
                      # node it is allowed on before any probe: that fixes the order of the
                      # "Fence (on)" lines
                      "unfencing-of-a-resources-allowed-nodes-is-created-before-any-probe-needs-it",
                      # a pending node is online: unclean, it is shown UNCLEAN (online)
                      "pending-node-with-a-failed-stop-is-shown-unclean-online",
                      # a managed instance active only on a cleanly offline node (its history
                      # unpacked for shutdown-lock) is not active: in no Started or Stopped list
                      "clone-instance-active-only-on-a-cleanly-offline-node-is-listed-nowhere",
                      # a member's start created nodeless by an ordering, then required by
                      # its own stop, puts its group's start in the graph
                      # (pe_order_implies_first_printed)
                      "group-start-in-the-graph-when-a-member-start-an-ordering-created-is-required",
                      # a probe's restart walk follows an ordering only to the actions that
                      # existed when it was applied
                      "probe-restart-walk-skips-a-member-start-created-after-the-ordering",
                      # a partial migration's probes go before its migrate_from
                      "probes-run-before-the-migrate-from-of-a-partial-migration",
                      # an orphan instance's failed probe lists its node "Stopped (not
                      # installed)" only when its key names the primitive itself
                      "orphan-instance-missing-agent-leaves-the-node-plain-stopped-when-keyed-by-number",
                      # recovering a failed resource on an offline node needs a stop there
                      # that cannot run: the node is fenced, even in maintenance
                      "failed-start-on-an-offline-node-in-maintenance-fences-it-as-its-stop-cannot-run",
                      # an unmanaged instance the distribution leaves over clone-max (an
                      # unmanaged orphan sorted first took the slot) is not assigned: no
                      # recurring monitor
                      "unmanaged-failed-instance-left-over-the-clone-limit-gets-no-recurring-monitor",
                      # crm_simulate injects nothing for an orphan's cleanup (delete): a
                      # pending start its stop does not outdate keeps it active
                      "orphan-with-a-pending-start-stays-active-after-its-stop-and-cleanup",
                      # an orphaned group instance's member never seen is built from the
                      # template: the clone's target-role shows ("(disabled)")
                      "orphan-group-member-never-seen-carries-the-clones-target-role",
                      # only failures on online nodes are recorded: an offline node's
                      # missing agent leaves it in the plain Stopped list
                      "clone-stopped-list-ignores-a-missing-agent-found-on-an-offline-node"]


@pytest.mark.parametrize("name", WHOLE_OUTPUT_CASES)
def test_whole_output_matches_pacemaker(name: str) -> None:
    case = HERE / f"{name}.xml"
    expected = case.with_suffix(".simulate").read_text().splitlines()
    got = _ours(case).splitlines()
    assert [" ".join(line.split()) for line in got] == [" ".join(line.split()) for line in expected]


@pytest.mark.oracle
@pytest.mark.parametrize("output_as", ["text", "xml"])
def test_a_terminated_transition_fails_as_pacemaker_reports_it(output_as: str) -> None:
    """Exit code 1 and Pacemaker's two error lines: on stderr as text, in the document's
    <status> as XML."""
    from tests.oracle import pacemaker_tool

    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    case = HERE / f"{sorted(TERMINATED)[0]}.xml"
    args = ["-x", str(case), "-S", f"--output-as={output_as}"]
    theirs = subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)
    ours = _run_ours(case, f"--output-as={output_as}")
    assert ours.returncode == theirs.returncode == 1
    if output_as == "text":
        assert theirs.stderr.splitlines() == ours.stderr.splitlines()
        return
    status = ours.stdout[ours.stdout.index("<status "):]
    assert status == theirs.stdout[theirs.stdout.index("<status "):]
