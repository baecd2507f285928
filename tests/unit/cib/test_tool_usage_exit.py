"""A bad command line exits CRM_EX_USAGE (64), as Pacemaker's tools do, not argparse's 2.

probe6 finding: `crm_attribute -n NAME -v` (value missing) exited 2; Pacemaker 2.1.5's
crm_attribute exits 64 (seed 1 of tests/differential/probe_cli.py).
Also an unknown -l/-t section, which crashed (seed 16).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cib.attribute_cli import main

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"


@pytest.mark.parametrize("argv", [["-n", "stonith-enabled", "-v"], ["--no-such-option"]])
def test_crm_attribute_bad_command_line_exits_64(argv: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 64
    assert capsys.readouterr().err.startswith("crm_attribute: ")


def test_unknown_lifetime_exits_76_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Probe finding (seed 16): `-l bogus` crashed with a KeyError traceback (exit 1);
    Pacemaker 2.1.5's crm_attribute exits 76 and changes nothing."""
    cib = tmp_path / "cib.xml"
    shutil.copy(EXAMPLE, cib)
    monkeypatch.setenv("CIB_file", str(cib))
    assert main(["-N", "alpha", "-n", "x", "-v", "1", "-l", "bogus"]) == 76
    assert "'bogus'" in capsys.readouterr().err
    assert cib.read_text() == EXAMPLE.read_text()

