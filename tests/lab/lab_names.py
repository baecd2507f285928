"""Lab names for the lab tests: the default names, or with the prefix in
$HACLUSTER_TEST_LAB_PREFIX instead of "hc", so several checkouts on one machine can run
the lab tests at the same time without touching each other's namespaces."""

from __future__ import annotations

import os


def lab_name(default: str) -> str:
    """`default` ("hc" + a word), re-prefixed when $HACLUSTER_TEST_LAB_PREFIX is set."""
    prefix = os.environ.get("HACLUSTER_TEST_LAB_PREFIX", "hc")
    return (prefix + default.removeprefix("hc"))[:8]
