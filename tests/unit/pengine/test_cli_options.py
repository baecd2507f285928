"""crm_simulate's plain command-line reader: the values click's command gives, or click."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from pengine.cli import run_command
from pengine.cli_options import build_command, plain_options


def _click_values(argv: list[str]) -> dict[str, object]:
    command = build_command(run_command)
    with command.make_context("crm_simulate", list(argv)) as context:
        return dict(context.params)


@pytest.mark.parametrize("argv", [
    ["-x", "cib.xml", "-R", "-Q", "-G", "out.xml"],
    ["-x", "cib.xml", "-RQ", "-G", "out.xml"],
    ["--xml-file=cib.xml", "--simulate", "--show-scores", "--save-graph", "g.xml"],
    ["-x", "cib.xml", "-S", "-s", "-D", "g.dot", "-a", "-O", "after.xml", "-I", "before.xml"],
    ["-L", "-S", "--output-as=xml", "--output-to", "out.txt"],
    ["-p", "-X", "-t", "2022-12-08T00:00:00Z"],
    ["-x", "one.xml", "-x", "two.xml", "-R"],
    ["--output-as", "json", "-x", "cib.xml"],
    [],
])
def test_plain_values_are_clicks(argv: list[str]) -> None:
    assert plain_options(argv) == _click_values(argv)


@pytest.mark.parametrize("argv", [
    ["-h"], ["--help"], ["-x", "cib.xml", "-u", "node1"], ["-x", "-R"], ["-x"],
    ["-x", "cib.xml", "extra"], ["-x", "cib.xml", "-RQz"], ["-x", "cib.xml", "--"],
    ["--run=yes"], ["-x", "cib.xml", "-i", "rsc_monitor_0@node1=7"], ["-x", "/"],
    ["-P", "dir"], ["--xml"],
])
def test_anything_else_is_left_to_click(argv: list[str]) -> None:
    assert plain_options(argv) is None


def test_directory_is_clicks_usage_error() -> None:
    # click.Path(dir_okay=False) refuses a directory before the run: exit 64, not 66
    with pytest.raises(click.BadParameter):
        _click_values(["-x", "/"])


def test_plain_run_does_not_load_click(shared: Path, tmp_path: Path) -> None:
    code = ("import sys; from pengine.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n    code = done.code\n"
            "print('click loaded' if 'click' in sys.modules else 'no click', code,"
            " file=sys.stderr)")
    cib = str(shared / "conformance/scheduler/xml/group1.xml")
    result = subprocess.run(
        [sys.executable, "-c", code, "-x", cib, "-R", "-Q", "-G", str(tmp_path / "graph.xml")],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.stderr.strip().splitlines()[-1] == "no click 0"
    assert (tmp_path / "graph.xml").read_text().startswith("<transition_graph")


def test_plain_and_click_runs_print_the_same(shared: Path) -> None:
    # `-F` (an op-fail spec that matches nothing) sends the same run through click
    cib = str(shared / "conformance/scheduler/xml/group1.xml")
    plain = subprocess.run([sys.executable, "-m", "pengine.cli", "-x", cib, "-S", "-s"],
                           capture_output=True, text=True, timeout=120, check=False)
    through_click = subprocess.run([sys.executable, "-m", "pengine.cli", "-x", cib, "-S", "-s",
                                    "-F", "none_start_0@nowhere=1"],
                                   capture_output=True, text=True, timeout=120, check=False)
    assert (plain.returncode, plain.stdout, plain.stderr) == (
        through_click.returncode, through_click.stdout, through_click.stderr)
    assert "Revised Cluster Status:" in plain.stdout
