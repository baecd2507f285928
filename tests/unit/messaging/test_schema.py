"""messaging.schema: CIB validation against Pacemaker's installed RelaxNG schemas.

The expected accept/reject verdicts were taken from Debian's Pacemaker 2.1.5
(`/usr/sbin/crm_simulate -x FILE -S`, exit 0 vs 78) on the same CIBs; the oracle test at
the end re-runs that comparison whenever the binary is installed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

from messaging import schema
from messaging.errors import ExitCode, ValidationError
from tests.oracle import pacemaker_tool

pytestmark = pytest.mark.skipif(
    not schema.available(),
    reason=f"Pacemaker's RelaxNG schemas are not in {schema.SCHEMA_DIR} "
           "(install the Debian package pacemaker-common)")

_CIB = """<cib {validate} epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="n1"/></nodes>
    <resources><primitive id="{rsc}" class="ocf" provider="heartbeat" type="Dummy"/></resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
"""


def _cib(validate_with: str | None = "pacemaker-3.9", rsc: str = "r1") -> etree._Element:
    validate = "" if validate_with is None else f'validate-with="{validate_with}"'
    return etree.fromstring(_CIB.format(validate=validate, rsc=rsc))


# (validate-with, resource id, Pacemaker accepts)
VERDICTS = [
    ("pacemaker-3.9", "r1", True),
    ("pacemaker-next", "r1", True),
    ("none", "0x10", True),          # validation disabled
    ("NONE", "0x10", True),          # names match case-insensitively
    (None, "0x10", True),            # no validate-with: disabled, with a warning
    ("pacemaker-2.10", "r1", True),
    ("pacemaker-1.0", "r1", True),   # invalid for 1.0 (node type) but upgradable
    ("pacemaker-0.6", "r1", True),
    ("banana", "r1", False),
    ("pacemaker-9.9", "r1", False),
    ("pacemaker-3.10", "r1", False),
    ("", "r1", False),
    ("Pacemaker-3.9", "r1", False),  # found, but versions.rng lists the exact spelling only
    ("pacemaker-3.9", "0x10", False),
    ("pacemaker-3.9", "child-3:0", False),
    ("pacemaker-3.0", "", False),
]


@pytest.mark.parametrize(("validate_with", "rsc", "accepted"), VERDICTS)
def test_verdicts_match_pacemaker(validate_with: str | None, rsc: str, accepted: bool) -> None:
    assert (schema.validate(_cib(validate_with, rsc)) == []) is accepted


def test_a_problem_names_the_element_line_and_schema_message() -> None:
    root = etree.fromstring(_CIB.format(validate='validate-with="pacemaker-3.9"', rsc="0x10"))
    problems = schema.validate(root, source="cib.xml")
    first = problems[0]
    assert first.location.source == "cib.xml"
    assert first.location.line == 5
    assert first.location.element == "<primitive id='0x10'>"
    assert "0x10" in first.message and "pacemaker-3.9" in first.message


def test_idref_problems_find_their_element() -> None:
    root = _cib()
    constraints = root.find("configuration/constraints")
    assert constraints is not None
    constraints.append(etree.fromstring('<rsc_location id="l1" rsc="gone" node="n1" '
                                        'score="1"/>'))
    problems = schema.validate(root)
    assert "gone" in problems[0].message
    assert problems[0].location.element == "<rsc_location id='l1'>"


def test_check_raises_validation_error_exit_78() -> None:
    with pytest.raises(ValidationError) as caught:
        schema.check(_cib(rsc="0x10"), source="cib.xml")
    assert caught.value.exit_code == ExitCode.CONFIG
    assert "cib.xml:5" in str(caught.value)
    assert caught.value.reports


def test_a_missing_section_is_rejected() -> None:
    root = _cib()
    configuration = root.find("configuration")
    assert configuration is not None
    nodes = configuration.find("nodes")
    assert nodes is not None
    configuration.remove(nodes)
    assert schema.validate(root)


def test_unknown_schema_is_one_clear_problem() -> None:
    problems = schema.validate(_cib("banana"))
    assert [p.code for p in problems] == ["unknown-schema"]
    assert "banana" in problems[0].message


def test_known_versions_come_from_the_installed_files() -> None:
    versions = schema.known_versions()
    assert versions[0] == "pacemaker-1.0"
    assert "pacemaker-2.10" in versions
    assert versions.index("pacemaker-2.9") < versions.index("pacemaker-2.10")
    assert schema.NEXT not in versions


def test_each_schema_is_compiled_once() -> None:
    schema.validate(_cib())
    before = schema._compiled.cache_info()
    schema.validate(_cib())
    after = schema._compiled.cache_info()
    assert after.misses == before.misses and after.hits > before.hits


def test_preload_compiles_what_a_newest_cib_validates_with() -> None:
    assert schema.preload()
    newest = schema.known_versions()[-1]
    assert newest == "pacemaker-3.9"  # Debian's 2.1.5 (pacemaker-common) ships up to 3.9
    before = schema._compiled.cache_info()
    assert schema.validate(_cib(newest)) == []
    after = schema._compiled.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1


def test_preload_without_schemas_compiles_nothing(tmp_path: Path) -> None:
    assert not schema.preload(tmp_path)


def test_missing_schemas_raise_schema_unavailable(tmp_path: Path) -> None:
    assert not schema.available(tmp_path)
    with pytest.raises(schema.SchemaUnavailable) as caught:
        schema.validate(_cib(), directory=tmp_path)
    assert caught.value.exit_code == ExitCode.NOT_INSTALLED
    assert "pacemaker-common" in str(caught.value)


@pytest.mark.oracle
@pytest.mark.parametrize(("validate_with", "rsc", "accepted"), VERDICTS)
def test_pacemaker_still_agrees(tmp_path: Path, validate_with: str | None, rsc: str,
                                accepted: bool) -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate (pacemaker-cli-utils) is not installed")
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(_cib(validate_with, rsc)))
    result = subprocess.run([tool, "-x", str(path), "-S"], capture_output=True, check=False)
    assert (result.returncode == 0) is accepted, result.stderr.decode()
