"""Pacemaker's parameter digest (op-digest, op-restart-digest, op-secure-digest), shared by
the lrmd that records it, the scheduler that compares it and the simulator that writes it.

The digest is the MD5 hex of the text ``' <parameters' + ' name="value"'... + '/>\\n'`` with
names sorted and values escaped as Pacemaker's XML escaper does: the five XML entities, tab
as four spaces, newline and carriage return as the two characters backslash-n and backslash-r,
other ASCII control characters and DEL as a backslash and three octal digits; non-ASCII text
passes unchanged. Which parameters go in (meta keys dropped, timeout kept for recurring
operations) is the caller's business.
"""

from __future__ import annotations

from collections.abc import Mapping

_REPLACEMENTS = {
    "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "&": "&amp;",
    "\t": "    ", "\n": "\\n", "\r": "\\r",
}


def _escape_table() -> dict[int, str]:
    table = {code: f"\\{code:03o}" for code in (*range(0x20), 0x7F)}
    table.update({ord(char): text for char, text in _REPLACEMENTS.items()})
    return table


_ESCAPES = _escape_table()


def escape_value(value: str) -> str:
    """A parameter value as it appears in the digest text (one C-level translate: every
    CIB print and digest goes through here, so it must not loop in Python)."""
    return value.translate(_ESCAPES)


def parameters_text(params: Mapping[str, str]) -> str:
    """The canonical ``<parameters .../>`` text the digest is computed over."""
    pairs = "".join(f' {name}="{escape_value(params[name])}"' for name in sorted(params))
    return f" <parameters{pairs}/>\n"


def parameters_digest(params: Mapping[str, str]) -> str:
    """MD5 hex of `parameters_text(params)` (32 lowercase hex digits)."""
    import hashlib  # here: loading OpenSSL costs start-up time that a -R on a CIB without
    # history never repays

    return hashlib.md5(parameters_text(params).encode()).hexdigest()
