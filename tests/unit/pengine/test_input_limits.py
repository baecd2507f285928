"""Issue 8 defect 6: crm_simulate validates its input like Pacemaker and bounds its work.

Expected exit codes come from Debian's /usr/sbin/crm_simulate 2.1.5 run on the same CIBs
(`-x FILE -S`); the oracle test re-runs it when installed. Pathological inputs (200,000
attributes on one element, 700,000 primitives) are refused by limits before the parser or
the schema validator spend super-linear time on them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from messaging import schema
from messaging.errors import ExitCode, ValidationError
from pengine import input_check
from pengine.input_check import parse_cib
from tests.oracle import pacemaker_tool

_BASE = """<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="n1"/></nodes>
    <resources><primitive id="r1" class="ocf" provider="heartbeat" type="Dummy"/></resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
"""
_OP = '<operations><op id="o1" name="monitor" interval="{}"/></operations></primitive>'

# name -> (CIB text, Pacemaker's exit code)
MUTATIONS = {
    "valid": (_BASE, 0),
    "empty_id": (_BASE.replace('id="r1"', 'id=""'), 78),
    "hex_id": (_BASE.replace('id="r1"', 'id="0x10"'), 78),
    "colon_id": (_BASE.replace('id="r1"', 'id="child-3:0"'), 78),
    "no_nodes": (_BASE.replace('<nodes><node id="1" uname="n1"/></nodes>', ""), 78),
    "no_crm_config": (_BASE.replace("<crm_config/>", ""), 78),
    "no_constraints": (_BASE.replace("<constraints/>", ""), 78),
    "bad_score": (_BASE.replace("<constraints/>", '<constraints><rsc_location id="l1" '
                                'rsc="r1" node="n1" score="\u00fa\u202e"/></constraints>'), 78),
    "huge_score": (_BASE.replace("<constraints/>", '<constraints><rsc_location id="l1" '
                                 'rsc="r1" node="n1" score="99999999999999999999"/>'
                                 "</constraints>"), 0),
    "negative_epoch": (_BASE.replace('epoch="1"', 'epoch="-1"'), 78),
    "negative_admin_epoch": (_BASE.replace('admin_epoch="0"', 'admin_epoch="-5"'), 78),
    "huge_epoch": (_BASE.replace('epoch="1"', 'epoch="999999999999999999999999"'), 0),
    "negative_interval": (_BASE.replace('type="Dummy"/>', 'type="Dummy">' + _OP.format("-10")),
                          0),
    "duplicate_node_id": (_BASE.replace('<node id="1" uname="n1"/>',
                                        '<node id="1" uname="n1"/><node id="1" uname="n2"/>'),
                          0),
    "unknown_schema": (_BASE.replace("pacemaker-3.9", "pacemaker-9.9"), 78),
}

needs_schemas = pytest.mark.skipif(
    not schema.available(),
    reason="Pacemaker's RelaxNG schemas are not installed (Debian package pacemaker-common)")


@needs_schemas
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_accepts_and_rejects_like_pacemaker(name: str) -> None:
    text, pacemaker_rc = MUTATIONS[name]
    if pacemaker_rc == 0:
        assert parse_cib(text.encode(), f"{name}.xml").tag == "cib"
    else:
        with pytest.raises(ValidationError) as caught:
            parse_cib(text.encode(), f"{name}.xml")
        assert caught.value.exit_code == pacemaker_rc
        assert str(caught.value).startswith(f"{name}.xml:")


def _many_attributes(count: int, validate_with: str = "pacemaker-3.9") -> bytes:
    attributes = " ".join(f'a{i}="x"' for i in range(count))
    return _BASE.replace('type="Dummy"/>', f'type="Dummy" {attributes}/>') \
        .replace("pacemaker-3.9", validate_with).encode()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("count", [300, 8_000, 200_000])
def test_many_attributes_on_one_element_are_refused(count: int) -> None:
    with pytest.raises(ValidationError, match="the limit"):
        parse_cib(_many_attributes(count, "none"), "attrs.xml")


@pytest.mark.timeout(60)
def test_too_many_elements_are_refused_before_parsing() -> None:
    primitives = "".join(f'<primitive id="r{i}" class="ocf" provider="heartbeat" '
                         'type="Dummy"/>' for i in range(input_check.MAX_ELEMENTS + 10))
    data = _BASE.replace('<primitive id="r1" class="ocf" provider="heartbeat" type="Dummy"/>',
                         primitives).encode()
    with pytest.raises(ValidationError, match="elements"):
        parse_cib(data, "big.xml")


def test_corpus_inputs_pass_limits_and_schema(shared: Path) -> None:
    """Every scheduler case Pacemaker ran (it has expected output) is accepted."""
    inputs = sorted((shared / "conformance" / "scheduler" / "xml").glob("*.xml"))
    if not inputs:
        pytest.skip("scheduler corpus not present")
    refused = []
    for path in inputs:
        try:
            parse_cib(path.read_bytes(), path.name)
        except ValidationError as error:
            refused.append(str(error)[:200])
    assert refused == []


def test_the_cli_exits_78_naming_the_file_line(tmp_path: Path) -> None:
    if not schema.available():
        pytest.skip("Pacemaker's RelaxNG schemas are not installed")
    path = tmp_path / "cib.xml"
    path.write_text(MUTATIONS["colon_id"][0])
    result = subprocess.run([str(Path(sys.executable).parent / "crm_simulate"), "-x",
                             str(path), "-S"], capture_output=True, text=True, check=False)
    assert result.returncode == ExitCode.CONFIG
    assert f"{path}:5:" in result.stderr and "child-3:0" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_pacemaker_still_answers_the_same(tmp_path: Path, name: str) -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate (pacemaker-cli-utils) is not installed")
    path = tmp_path / "cib.xml"
    path.write_text(MUTATIONS[name][0])
    result = subprocess.run([tool, "-x", str(path), "-S"], capture_output=True, check=False)
    assert result.returncode == MUTATIONS[name][1], result.stderr.decode()[:500]
