"""LrmdSampler's thread: a lab that is not up is skipped round after round, and an unexpected
error that ends the thread reaches the test waiting for a round, by name."""

from __future__ import annotations

import pytest

from lab.audit import DoubleRunAudit
from lab.audit_live import LabNodes, LrmdSampler
from messaging.errors import HAError


class NodesWithABrokenStateFile(LabNodes):
    """A lab whose state file reads as garbage: the kind of bug the sampler must not hide."""

    def running(self) -> dict[str, str]:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


def test_an_error_that_ends_the_sampler_is_reported_by_wait_rounds() -> None:
    with (LrmdSampler(NodesWithABrokenStateFile("nolab"), DoubleRunAudit()) as sampler,
          pytest.raises(HAError, match="sampler stopped: UnicodeDecodeError")):
        sampler.wait_rounds(1, timeout=30)


def test_a_lab_that_is_not_up_completes_no_round_and_says_so() -> None:
    with (LrmdSampler(LabNodes("hacluster-test-no-such-lab"), DoubleRunAudit()) as sampler,
          pytest.raises(HAError, match="completed no round")):
        sampler.wait_rounds(1, timeout=0.5)
