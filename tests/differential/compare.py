"""Run one generated CIB through Debian's crm_simulate and ours, and compare.

Pacemaker is run twice (`-x F -S` for the Transition Summary and the whole simulation output,
`-x F -s` for allocation scores); ours runs in-process through `pengine.api.schedule` for the
summary and scores, and as a subprocess (`crm_simulate -x F -S`) only when the whole output is
wanted. Summaries compare line by line, whitespace-insensitive; scores compare the set of
`pcmk__primitive_assign`, `pcmk__group_assign` and `pcmk__clone_allocate` lines and the
promotion score lines (`<instance> promotion score on <node>: N`), the score lines our engine
prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.oracle import pacemaker_tool

_ENV = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
SCORE_PREFIXES = ("pcmk__primitive_assign:", "pcmk__group_assign:", "pcmk__clone_allocate:")
PROMOTION_SCORE = " promotion score on "


def score_kind(line: str) -> str | None:
    """The compared kind of a `-s` output line: its SCORE_PREFIXES prefix, "promotion" for
    a promotion score line, else None (not compared)."""
    if line.startswith(SCORE_PREFIXES):
        return line.split(" ", 1)[0]
    return "promotion" if PROMOTION_SCORE in line else None


def score_lines(lines: list[str] | tuple[str, ...]) -> set[str]:
    """The compared allocation-score lines (SCORE_PREFIXES, promotion scores) of a `-s`
    output."""
    return {line for line in lines if score_kind(line) is not None}


@dataclass(frozen=True)
class Outcome:
    """Agreement of one CIB on the three compared outputs (None = not compared)."""

    seed: int
    summary_ok: bool
    expected: tuple[str, ...]
    got: tuple[str, ...]
    scores_ok: bool | None = None
    full_ok: bool | None = None
    error: str | None = None


def summary_lines(text: str) -> tuple[str, ...]:
    """The lines after "Transition Summary:" up to the first blank or unindented line."""
    lines = text.splitlines()
    try:
        start = lines.index("Transition Summary:") + 1
    except ValueError:
        return ()
    out = []
    for line in lines[start:]:
        if not line.strip() or not line.startswith(" "):
            break
        out.append(line)
    return tuple(out)


def norm(lines: tuple[str, ...] | list[str]) -> list[str]:
    return ["".join(line.split()) for line in lines]


def _run(argv: list[str], shadow: str) -> subprocess.CompletedProcess[str]:
    env = {**_ENV, "CIB_shadow_dir": shadow}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120,
                          check=False)


def pacemaker(path: Path, shadow: str, flag: str) -> str:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        raise RuntimeError("Debian's crm_simulate is not installed")
    return _run([tool, "-x", str(path), flag], shadow).stdout


def ours_full(path: Path, shadow: str) -> str:
    code = "import sys; from pengine.cli import main; main(sys.argv[1:])"
    env_cwd = str(Path(__file__).resolve().parent.parent.parent)
    proc = subprocess.run([sys.executable, "-c", code, "-x", str(path), "-S"],
                          capture_output=True, text=True, cwd=env_cwd, timeout=120, check=False,
                          env={**os.environ, **_ENV, "PATH": os.environ.get("PATH", "")})
    return proc.stdout


def compare(seed: int, xml: str, *, scores: bool = False, full: bool = False) -> Outcome:
    from pengine.api import schedule

    with tempfile.TemporaryDirectory(prefix="pengine-diff-") as tmp:
        path = Path(tmp) / f"seed{seed}.xml"
        path.write_text(xml)
        sim = pacemaker(path, tmp, "-S")
        expected = summary_lines(sim)
        try:
            transition = schedule(xml)
        except Exception as exc:
            return Outcome(seed, False, expected, (), error=f"{type(exc).__name__}: {exc}")
        got = transition.summary
        summary_ok = norm(expected) == norm(got)
        scores_ok = full_ok = None
        if scores:
            theirs = score_lines(pacemaker(path, tmp, "-s").splitlines())
            scores_ok = theirs == score_lines(transition.scores)
        if full:
            full_ok = norm(sim.splitlines()) == norm(ours_full(path, tmp).splitlines())
        return Outcome(seed, summary_ok, expected, got, scores_ok, full_ok)
