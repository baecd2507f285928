"""The README's shell lines, as tests/test_readme.py checks them and tests/lab/test_walkthrough.py
runs them: the non-empty lines of its ```sh blocks, all of them or one section's."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def sh_lines(section: str | None = None) -> list[str]:
    """Lines of the ```sh blocks, only those under the `## section` heading when given."""
    lines: list[str] = []
    inside, wanted = False, section is None
    for line in README.read_text().splitlines():
        if line.startswith("## "):
            wanted = section is None or line[3:].strip() == section
        elif line.startswith("```"):
            inside = line.strip() == "```sh"
        elif inside and wanted and line.strip():
            lines.append(line)
    return lines
