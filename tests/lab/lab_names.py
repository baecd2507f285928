"""Lab names for the lab tests: the default names, or with the prefix in
$HACLUSTER_TEST_LAB_PREFIX instead of "hc", so several checkouts on one machine can run
the lab tests at the same time without touching each other's namespaces; and the marks
every namespace-lab test module carries (root and the tools the lab needs, else a skip
naming what is missing)."""

from __future__ import annotations

import os
import shutil

import pytest


def lab_name(default: str) -> str:
    """`default` ("hc" + a word), re-prefixed when $HACLUSTER_TEST_LAB_PREFIX is set."""
    prefix = os.environ.get("HACLUSTER_TEST_LAB_PREFIX", "hc")
    return (prefix + default.removeprefix("hc"))[:8]


NAMESPACE_LAB_MARKS = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the namespace lab needs root"),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("ip", "nft", "unshare", "nsenter")),
        reason="needs iproute2, nftables and util-linux (unshare, nsenter)",
    ),
]
