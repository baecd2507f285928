"""cibadmin's own parse of plain command lines (cib.cli._plain_options) against argparse's:
for every command line it takes, it must give exactly argparse's options, and it must take
the usual ones (else the start-up saving is gone and nothing else would notice)."""

from __future__ import annotations

import contextlib
import io

from hypothesis import given
from hypothesis import strategies as st

from cib.cli import _COMMANDS, _OPTIONS, _parser, _plain_options

_OPTION_WORDS = [word for short, (long, _, _) in _COMMANDS.items() for word in (short, long)]
_OPTION_WORDS += [word for short, long, *_ in _OPTIONS for word in (short, long)]
# words argparse reads differently from a whole option and a separate value
_ODD_WORDS = ["-V", "--verbose", "-VV", "-Ql", "-QV", "--quer", "--scope=status", "-ostatus",
              "-X<a/>", "-a", "--empty", "-S", "--show-access", "--", "-", "-1", "-?",
              "--help", "-$", "-h", "--unknown", "-Z"]
_VALUES = ["", "status", "<nvpair id='a' value='1'/>", "//nvpair", "a b", "-x y", "30"]


def _argparse_options(args: list[str]) -> dict[str, object] | None:
    """argparse's options for `args`, None when it exits (an error, --help, --version)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return vars(_parser().parse_args(args))
        except SystemExit:
            return None


@given(st.lists(st.sampled_from(_OPTION_WORDS + _ODD_WORDS + _VALUES), max_size=7))
def test_plain_options_are_argparse_options_or_left_to_argparse(args: list[str]) -> None:
    plain = _plain_options(args)
    if plain is not None:
        assert vars(plain) == _argparse_options(args)


def test_the_usual_command_lines_are_parsed_without_argparse() -> None:
    lines = [["-Q"], ["-M", "-X", '<nvpair id="a" value="1"/>'],
             ["--query", "--scope", "status", "--local", "--no-children"],
             ["-C", "-o", "resources", "-X", "<primitive/>"], ["-D", "-A", "//nvpair", "-V", "-V"],
             ["-R", "-x", "cib.xml", "-t", "30"]]
    for args in lines:
        plain = _plain_options(args)
        assert plain is not None, args
        assert vars(plain) == _argparse_options(args)
