"""The error tree maps to Pacemaker's exit codes through one table."""

from __future__ import annotations

import pytest

from messaging.errors import (
    AgentExecError,
    ConfigError,
    ConflictError,
    ExitCode,
    HAError,
    InternalError,
    Location,
    NotFoundError,
    PeerTimeout,
    RemoteProtocolError,
    ValidationError,
    exit_code_for,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("x"), 78),
        (NotFoundError("x"), 105),
        (ConflictError("x"), 103),
        (PeerTimeout("x"), 124),
        (RemoteProtocolError("x"), 76),
        (AgentExecError("x"), 5),
        (InternalError("x"), 70),
        (FileNotFoundError("x"), 66),
        (PermissionError("x"), 4),
        (ValueError("x"), 70),
    ],
)
def test_exit_codes_are_pacemakers(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


def test_exit_code_numbers_match_crm_error() -> None:
    assert ExitCode.DISCONNECT == 102 and ExitCode.EXISTS == 108 and ExitCode.UNSAFE == 107
    assert ExitCode.USAGE == 64 and ExitCode.TIMEOUT == 124 and ExitCode.NONE == 193


def test_error_message_names_location() -> None:
    error = ConfigError("unknown directive 'keepalivex'", location=Location("ha.cf", 7))
    assert str(error) == "ha.cf:7: unknown directive 'keepalivex'"
    assert isinstance(error, HAError)


def test_validation_error_keeps_reports() -> None:
    from messaging.errors import Report

    reports = (Report("bad-id", "id missing"), Report("dup", "duplicate id"))
    error = ValidationError("2 problems", reports)
    assert error.reports == reports
    assert exit_code_for(error) == ExitCode.CONFIG


def _crm_error_exit_table() -> dict[str, int]:
    """Pacemaker's own CRM_EX_* table, as its crm_error lists it, in its order."""
    import shutil
    import subprocess

    if shutil.which("crm_error") is None:
        pytest.skip("Pacemaker's crm_error is not installed")
    listing = subprocess.run(["crm_error", "--exit", "--list", "-n"], capture_output=True,
                             text=True, check=True).stdout
    table = {}
    for line in listing.splitlines():
        number, name = line.split()[:2]
        table[name.removeprefix("CRM_EX_")] = int(number.rstrip(":"))
    return table


def test_exit_code_is_the_intenum_of_crm_errors_table() -> None:
    # ExitCode is built by the stdlib's fast constructor (every tool pays for it at start);
    # it must be indistinguishable from the IntEnum EnumType builds from Pacemaker's table:
    # same members, order, values, names, methods and docstring.
    import enum

    reference = enum.IntEnum("ExitCode", _crm_error_exit_table(),  # type: ignore[misc]
                             module="messaging.errors")
    reference.__doc__ = ExitCode.__doc__
    enum._test_simple_enum(reference, ExitCode)  # type: ignore[attr-defined]
