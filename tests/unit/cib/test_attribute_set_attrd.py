"""crm_attribute -l reboot --set-name in live mode goes through the attribute manager with
the set, as Pacemaker 2.1.5's crm_attribute passes options.set_name to attrd; attrd (not
the tool) then creates the nvpair in that instance_attributes set. A backend that records
what the tool asks stands in for the cib and attrd daemons."""

from __future__ import annotations

from dataclasses import dataclass, field

from cib.attribute_cli import _Out, _parser
from cib.attribute_file import run
from cib.model import empty_cib
from cib.request import Request
from cib.xmlio import Element, parse


@dataclass
class RecordingBackend:
    """The live backend's contract: a CIB with node n3 (id 3) and an attrd that takes
    every change."""

    asked: list[tuple[str, str | None, str, str | None]] = field(default_factory=list)
    commits: list[Request] = field(default_factory=list)

    def load(self) -> Element:
        cib = empty_cib()
        nodes = cib.find("configuration/nodes")
        assert nodes is not None
        nodes.append(parse('<node id="3" uname="n3"/>'))
        return cib

    def commit(self, request: Request) -> None:
        self.commits.append(request)

    def transient(self, name: str, value: str | None, node: str,
                  set_id: str | None = None) -> bool:
        self.asked.append((name, value, node, set_id))
        return True

    def close(self) -> None:
        return None


def _run(*args: str) -> RecordingBackend:
    backend = RecordingBackend()
    options = _parser().parse_args(list(args))
    assert run(backend, options, _Out(False, list(args))) == 0
    return backend


def test_set_name_goes_to_attrd_with_the_update_and_the_delete() -> None:
    update = _run("-l", "reboot", "-N", "n3", "-n", "maint", "-v", "on", "-s", "my-set")
    assert update.asked == [("maint", "on", "n3", "my-set")] and not update.commits
    delete = _run("-l", "reboot", "-N", "n3", "-n", "maint", "-D", "-s", "my-set")
    assert delete.asked == [("maint", None, "n3", "my-set")] and not delete.commits


def test_without_a_set_attrd_chooses_it() -> None:
    assert _run("-l", "reboot", "-N", "n3", "-n", "maint", "-v", "on").asked == [
        ("maint", "on", "n3", None)]
