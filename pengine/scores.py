"""Score arithmetic (Pacemaker's INFINITY = 1000000 saturating integers).

Invariants: every score is an int within [-INF, INF]; -INF dominates +INF on addition.
"""

from __future__ import annotations

INF = 1_000_000


def char2score(text: str | None) -> int:
    """Parse a score: INFINITY/+INFINITY/-INFINITY, health colours (0), or a leading integer."""
    if text is None:
        return 0
    text = text.strip()
    if text == "-INFINITY":
        return -INF
    if text in ("INFINITY", "+INFINITY"):
        return INF
    digits = ""
    for i, ch in enumerate(text):
        if ch.isdigit() or (i == 0 and ch in "+-"):
            digits += ch
        else:
            break
    try:
        value = int(digits)
    except ValueError:
        return 0
    return max(-INF, min(INF, value))


def add(a: int, b: int) -> int:
    """Pacemaker's pcmk__add_scores."""
    if a <= -INF or b <= -INF:
        return -INF
    if a >= INF or b >= INF:
        return INF
    return max(-INF, min(INF, a + b))


def score2str(score: int) -> str:
    """Render a score the way the scores output does."""
    if score >= INF:
        return "INFINITY"
    if score <= -INF:
        return "-INFINITY"
    return str(score)
