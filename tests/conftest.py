"""Shared pytest fixtures: where the reference material (../shared) is, and root/netns checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path | None:
    """The reference material beside the checkout (CI has it; a user's clone does not)."""
    candidate = Path(os.environ.get("HACLUSTER_SHARED", REPO.parent / "shared"))
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    found = shared_dir()
    if found is None:
        pytest.skip("../shared (reference corpus) is not beside this checkout")
    return found


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the adversarial suite (tests/adversarial/README.md)."""
    group = parser.getgroup("adversarial")
    group.addoption("--adversarial-full", action="store_true", default=False,
                    help="run every adversarial probe at full size (CI runs a seeded slice); "
                         "same as HACLUSTER_ADVERSARIAL_FULL=1")
    group.addoption("--adversarial-seed", type=int, default=None,
                    help="seed of the adversarial probes (default 8, or "
                         "$HACLUSTER_ADVERSARIAL_SEED)")
