"""messaging.tool_exit: the process ends with the code, its buffered output all written."""

from __future__ import annotations

import subprocess
import sys

_PROGRAM = """
import sys
from messaging.tool_exit import exit_now
sys.stdout.write("x" * 200000)  # far more than one buffer: most of it is still buffered
sys.stderr.write("done")
import atexit
atexit.register(lambda: print("teardown ran", file=sys.stderr))
exit_now(7)
"""


def test_output_is_flushed_and_code_kept() -> None:
    result = subprocess.run([sys.executable, "-c", _PROGRAM], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 7
    assert result.stdout == "x" * 200000
    assert result.stderr == "done"  # the interpreter's teardown (atexit) did not run


def test_closed_stdout_falls_back_to_the_ordinary_exit() -> None:
    program = _PROGRAM.replace('sys.stderr.write("done")', "sys.stdout.close()")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 7
    assert "teardown ran" in result.stderr
