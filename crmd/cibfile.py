"""Where the operator tools get the CIB from and put it back: the one CIB access module.

Today only Pacemaker's file mode exists: `CIB_file=PATH` names a CIB XML file that every
tool reads and (for edits) rewrites in place, as Pacemaker's and crmsh's tools do. Without
it the tools would talk to the live CIB daemon, which is not built yet, so they fail the way
Pacemaker's do without a cluster (CRM_EX_DISCONNECT). When cib's client library lands, only
this module changes.

Invariants: a write replaces the file atomically (temporary file + rename) and bumps the
CIB's epoch and num_updates like the CIB manager does, so a failed edit never leaves a
half-written file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lxml import etree

from messaging.errors import ExitCode, HAError, Location, PeerUnreachable, ValidationError

ENV_VAR = "CIB_file"


class CibFileMissing(HAError):
    """CIB_file names a file that cannot be read."""

    exit_code = ExitCode.NOINPUT


def cib_path() -> Path:
    """The CIB file named by CIB_file; without it there is no CIB to talk to (yet)."""
    value = os.environ.get(ENV_VAR)
    if not value:
        raise PeerUnreachable("Could not connect to the CIB: no cluster is running on this "
                              "host (set CIB_file=PATH to work on a CIB file)")
    return Path(value)


def parse(data: bytes, source: str) -> etree._Element:
    """Parse CIB text; anything but well-formed XML with a <cib> root is a ValidationError."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True,
                             huge_tree=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.lineno if isinstance(error.lineno, int) else None
        raise ValidationError(f"not well-formed XML: {error.msg}",
                              location=Location(source, line)) from None
    if root.tag != "cib":
        raise ValidationError(f"not a CIB: the root element is <{root.tag}>",
                              location=Location(source))
    return root


def read_cib(path: Path | None = None) -> etree._Element:
    """The whole CIB (configuration and status) as an element tree."""
    path = path or cib_path()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CibFileMissing(f"cannot read the CIB: {error.strerror}",
                             location=Location(str(path))) from None
    return parse(data, str(path))


def _stamp(root: etree._Element, *, epoch: bool, client: str) -> None:
    if epoch:
        root.set("epoch", str(int(root.get("epoch", "0") or 0) + 1))
        root.set("num_updates", "0")
    else:
        root.set("num_updates", str(int(root.get("num_updates", "0") or 0) + 1))
    root.set("cib-last-written", time.strftime("%a %b %e %H:%M:%S %Y"))
    root.set("update-client", client)
    root.set("update-user", os.environ.get("USER", "root"))


def write_cib(root: etree._Element, *, client: str, path: Path | None = None,
              configuration_changed: bool = True) -> None:
    """Write the CIB back (atomically), bumping epoch (config edits) or num_updates."""
    path = path or cib_path()
    _stamp(root, epoch=configuration_changed, client=client)
    text = etree.tostring(root, pretty_print=True, encoding="unicode")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
