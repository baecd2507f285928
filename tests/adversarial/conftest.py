"""The adversarial suite's shared machinery: size of a run, seed, and the outcome table.

Every probe records what it tried in `tally`: per probe name, how many inputs were tried,
rejected (refused cleanly), wrongly accepted, and crashes (a traceback, an exception other
than the HAError tree, or a daemon that stopped answering). The table is printed at the
end of the session; tests assert `wrongly_accepted == 0` and `crashes == 0`.

CI runs a seeded slice (`budget(small, large)` returns `small`); the full run is
`pytest -m adversarial --adversarial-full` (or HACLUSTER_ADVERSARIAL_FULL=1).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

DEFAULT_SEED = 8


@dataclass
class Outcome:
    tried: int = 0
    rejected: int = 0
    wrongly_accepted: int = 0
    crashes: int = 0
    examples: list[str] = field(default_factory=list)

    def bad(self, kind: str, example: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 5:
            self.examples.append(example[:300])


_TABLE: dict[str, Outcome] = {}


class Tally:
    """Per-probe counters shared by the whole session."""

    def __getitem__(self, probe: str) -> Outcome:
        return _TABLE.setdefault(probe, Outcome())


@pytest.fixture(scope="session")
def tally() -> Tally:
    return Tally()


@pytest.fixture(scope="session")
def full(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--adversarial-full")
                or os.environ.get("HACLUSTER_ADVERSARIAL_FULL") == "1")


@pytest.fixture(scope="session")
def seed(request: pytest.FixtureRequest) -> int:
    chosen = request.config.getoption("--adversarial-seed")
    if chosen is None:
        chosen = int(os.environ.get("HACLUSTER_ADVERSARIAL_SEED", DEFAULT_SEED))
    return int(chosen)


@pytest.fixture
def rng(seed: int, request: pytest.FixtureRequest) -> random.Random:
    """A generator seeded per test (same seed, same inputs, whatever runs before)."""
    return random.Random(f"{seed}:{request.node.name}")


@pytest.fixture(scope="session")
def budget(full: bool) -> Iterator[object]:
    def size(small: int, large: int) -> int:
        return large if full else small
    yield size


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TABLE:
        return
    write = terminalreporter.write_line
    write("")
    write("adversarial probes: tried / rejected / wrongly accepted / crashes")
    write(f"| {'probe':<44} | {'tried':>7} | {'rejected':>8} | {'wrongly accepted':>16} "
          f"| {'crashes':>7} |")
    write(f"|{'-' * 46}|{'-' * 9}|{'-' * 10}|{'-' * 18}|{'-' * 9}|")
    for probe in sorted(_TABLE):
        o = _TABLE[probe]
        write(f"| {probe:<44} | {o.tried:>7} | {o.rejected:>8} | {o.wrongly_accepted:>16} "
              f"| {o.crashes:>7} |")
    for probe in sorted(_TABLE):
        for example in _TABLE[probe].examples[:10]:
            write(f"  {probe}: {example}")
