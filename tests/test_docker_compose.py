"""docker-compose.yml is valid for Docker's own tool and describes the same 3-node cluster as
docker/ha.cf (the containers cannot run on CI machines, which have no Docker engine)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _ha_cf_nodes() -> list[str]:
    lines = (REPO / "docker" / "ha.cf").read_text().splitlines()
    return [line.split()[1] for line in lines if line.startswith("node ")]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_file_is_valid_and_matches_ha_cf() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config", "--services"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(_ha_cf_nodes()) == ["node1", "node2", "node3"]


def test_docker_config_files_parse_with_our_parsers() -> None:
    from messaging.authkeys import parse_authkeys
    from messaging.config import parse_ha_cf

    config = parse_ha_cf((REPO / "docker" / "ha.cf").read_text(), "docker/ha.cf")
    assert config.nodes == ("node1", "node2", "node3")
    assert config.deadtime > config.warntime > config.keepalive
    keys = parse_authkeys((REPO / "docker" / "authkeys").read_text(), "docker/authkeys")
    assert keys.active == 1


def test_every_node_address_is_a_ucast_peer() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    ucast = [line.split()[2] for line in (REPO / "docker" / "ha.cf").read_text().splitlines()
             if line.startswith("ucast ")]
    assert len(ucast) == 3
    for address in ucast:
        assert f"ipv4_address: {address}" in compose
