"""`lab up` ends with the cluster's status; a build without crmd's daemon says why there is
none instead of failing (the namespace lab prints crm_mon -1: tests/lab/test_walkthrough.py)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from lab.cli import controller_installed, show_cluster_status
from lab.layout import LabSpec, LabState, NodeState


@pytest.mark.skipif(controller_installed(), reason="this build has crmd's daemon")
def test_without_crmd_lab_up_says_the_resources_are_not_started() -> None:
    state = LabState(LabSpec("t1", nodes=2), {
        "n1": NodeState("n1", 1, "/nonexistent/n1"), "n2": NodeState("n2", 2, "/nonexistent/n2")})

    def show() -> None:
        show_cluster_status(state)

    result = CliRunner().invoke(click.command()(show), [])
    assert result.exit_code == 0, result.output
    assert "no cluster controller (crmd) yet" in result.output
    assert "'hacluster lab exec n1 cibadmin -Q -o resources'" in result.output
