"""The lab's generated files are valid for the real parsers; bad options and scripts fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm.config import parse
from lab.layout import AUTH_METHODS, LabSpec, NodeState, address, authkeys, ha_cf, write_node_files
from lab.sim.script import parse_blocks, run_script
from messaging.authkeys import parse_authkeys
from messaging.errors import UsageError


@pytest.mark.parametrize("media", ["ucast", "bcast"])
@pytest.mark.parametrize("links", [1, 2])
def test_generated_ha_cf_parses_with_every_node_and_link(media: str, links: int) -> None:
    spec = LabSpec(nodes=4, links=links, media=media, keepalive_ms=100, deadtime_ms=800)  # type: ignore[arg-type]
    config = parse(ha_cf(spec, "/var/lib/hacluster")).ha
    assert config.nodes == ("n1", "n2", "n3", "n4")
    assert (config.keepalive, config.deadtime) == (0.1, 0.8)
    assert len(config.links) == links
    if media == "ucast":
        assert {m.address for m in config.media} == {
            address(spec, i, k) for i in range(1, 5) for k in range(links)}


@pytest.mark.parametrize("method", AUTH_METHODS)
def test_generated_authkeys_parse(method: str) -> None:
    ring = parse_authkeys(authkeys(LabSpec(auth=method), "s3cret"))
    assert ring is not None


def test_node_files_are_written_with_a_private_key(tmp_path: Path) -> None:
    node = NodeState("n1", 1, str(tmp_path / "n1"))
    write_node_files(LabSpec(), node, "abc", "/var/lib/hacluster")
    assert (tmp_path / "n1" / "etc" / "authkeys").stat().st_mode & 0o077 == 0
    assert (tmp_path / "n1" / "state").is_dir() and (tmp_path / "n1" / "log").is_dir()


def test_addresses_are_private_and_distinct() -> None:
    spec = LabSpec(nodes=16, links=2)
    seen = {address(spec, i, k) for i in range(1, 17) for k in range(2)}
    assert len(seen) == 32 and all(a.startswith("10.213.6") for a in seen)
    assert address(LabSpec(loopback=True), 3).startswith("127.")


@pytest.mark.parametrize(
    "kwargs",
    [{"nodes": 0}, {"nodes": 17}, {"links": 3}, {"keepalive_ms": 500, "deadtime_ms": 1000},
     {"auth": "rot13"}, {"name": "bad name"}, {"loopback": True, "media": "bcast"}],
)
def test_bad_lab_options_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        LabSpec(**kwargs)  # type: ignore[arg-type]


def test_script_blocks_skip_outputs_and_comments() -> None:
    text = "# about\nadd-nodes 2\n----\nok\n\ntick 1\n----\nno change\nmore\n\nviews\n----\n"
    assert parse_blocks(text) == ["add-nodes 2", "tick 1", "views"]


@pytest.mark.parametrize("script", ["bogus 1\n----\n", "tick 1\n----\n",
                                    "options nope=1\n----\n"])
def test_bad_script_commands_are_usage_errors(script: str) -> None:
    with pytest.raises(UsageError):
        run_script(script)
