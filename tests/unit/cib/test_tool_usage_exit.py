"""A bad command line exits CRM_EX_USAGE (64), as Pacemaker's tools do, not argparse's 2.

probe6 finding: `crm_attribute -n NAME -v` (value missing) exited 2; Pacemaker 2.1.5's
crm_attribute exits 64 (seed 1 of tests/differential/probe_cli.py).
"""

from __future__ import annotations

import pytest

from cib.attribute_cli import main


@pytest.mark.parametrize("argv", [["-n", "stonith-enabled", "-v"], ["--no-such-option"]])
def test_crm_attribute_bad_command_line_exits_64(argv: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 64
    assert capsys.readouterr().err.startswith("crm_attribute: ")
