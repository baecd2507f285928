"""The Docker lab (docker-compose.yml, docker/Dockerfile, lab.container, lab.docker_pdu) as far
as a machine without a Docker engine can check it: Docker's own tool accepts the compose
file; it describes three nodes n1..n3 on the namespace lab's addresses, each name pinned
for ucast; the configuration its init service generates is read by our own parsers; the
power switch's socket is where the demo's fence device looks; the image installs exactly
as the README does. tests/docker/test_docker_lab.py runs the containers on a Docker engine.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from lab.cib_seed import demo_xml
from lab.container import install_node, write_config
from lab.layout import LabSpec, address
from messaging.authkeys import load_authkeys
from messaging.config import load_ha_cf, resolve_ucast

REPO = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose")
NODES = ["n1", "n2", "n3"]


@functools.cache
def _compose_config() -> dict[str, Any]:
    """`docker-compose config` (the resolved file), read with the YAML parser of
    docker-compose's own Python (our virtualenv has none)."""
    assert COMPOSE is not None
    done = subprocess.run([COMPOSE, "-f", str(REPO / "docker-compose.yml"), "config"],
                          capture_output=True, text=True, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    interpreter = Path(COMPOSE).read_text().splitlines()[0].removeprefix("#!").split()
    as_json = subprocess.run(
        [*interpreter, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), "
         "sys.stdout)"], input=done.stdout, capture_output=True, text=True, check=True)
    config: dict[str, Any] = json.loads(as_json.stdout)
    return config


needs_compose = pytest.mark.skipif(COMPOSE is None, reason="docker-compose (Debian's "
                                   "package, installed by ./setup.sh test) is not installed")


@needs_compose
def test_compose_file_is_valid_and_runs_three_nodes_on_the_lab_addresses() -> None:
    services = _compose_config()["services"]
    assert sorted(services) == ["init", *NODES, "pdu"]
    spec = LabSpec("x", nodes=3)
    pinned = {f"{n}:{address(spec, i)}" for i, n in enumerate(NODES, start=1)}
    for index, name in enumerate(NODES, start=1):
        node = services[name]
        assert node["hostname"] == name == node["labels"]["hacluster.node"]
        assert node["networks"]["cluster"]["ipv4_address"] == address(spec, index)
        assert set(node["extra_hosts"]) == pinned
        assert node["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert "config:/config:ro" in node["volumes"]
        assert node["command"] == ["python", "-m", "lab.container", "node", "/config"]


@needs_compose
def test_the_power_switch_socket_is_where_the_demo_fence_device_looks() -> None:
    services = _compose_config()["services"]
    root = etree.fromstring(demo_xml())
    socket_path = root.xpath("//primitive[@id='fence-lab']//nvpair[@name='pdu_socket']/@value")
    directory = str(Path(socket_path[0]).parent)
    assert services["pdu"]["command"][-1] == socket_path[0]
    for name in ("pdu", *NODES):
        assert f"pdu:{directory}:rw" in services[name]["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock:rw" in services["pdu"]["volumes"]


@needs_compose
def test_the_demo_virtual_ip_is_on_the_compose_subnet() -> None:
    import ipaddress

    network = _compose_config()["networks"]["cluster"]["ipam"]["config"][0]["subnet"]
    root = etree.fromstring(demo_xml())
    ip = root.xpath("//primitive[@id='demo-ip']//nvpair[@name='ip']/@value")[0]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(network)


def test_generated_config_is_read_by_our_parsers_and_the_key_is_made_once(
        tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    done = subprocess.run([sys.executable, "-m", "lab.container", "init", str(config_dir)],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "HACLUSTER_NODES": "n1 n2 n3"}, cwd=REPO)
    assert done.returncode == 0, done.stderr
    config = load_ha_cf(config_dir / "ha.cf")
    assert config.nodes == tuple(NODES) and config.crm == "respawn"
    assert [m.address for m in config.media if m.kind == "ucast"] == NODES
    assert config.deadtime > config.warntime >= config.keepalive
    hosts = {n: address(LabSpec("x"), i) for i, n in enumerate(NODES, start=1)}
    resolved = resolve_ucast(config, hosts.__getitem__)
    assert [m.address for m in resolved.media_for([hosts["n2"]])] == [hosts["n1"], hosts["n3"]]
    keys_path = config_dir / "authkeys"
    assert keys_path.stat().st_mode & 0o777 == 0o600
    keys = load_authkeys(keys_path)
    first = keys_path.read_bytes()
    assert keys.active == 1
    assert write_config(config_dir, NODES) == ["ha.cf", "cib.xml"]  # a second `up`
    assert keys_path.read_bytes() == first


def test_a_node_installs_its_files_and_keeps_its_cib_across_restarts(tmp_path: Path) -> None:
    config_dir, etc, state = tmp_path / "config", tmp_path / "etc", tmp_path / "state"
    write_config(config_dir, NODES)
    install_node(config_dir, etc, state, tmp_path / "run" / "resource-agents")
    assert (tmp_path / "run" / "resource-agents").is_dir()
    assert (etc / "authkeys").stat().st_mode & 0o777 == 0o600
    assert (etc / "authkeys").read_bytes() == (config_dir / "authkeys").read_bytes()
    assert load_ha_cf(etc / "ha.cf").nodes == tuple(NODES)
    assert (state / "cib.xml").read_bytes() == (config_dir / "cib.xml").read_bytes()
    assert (state / "cib").is_dir()
    (state / "cib.xml").write_text("<cib/>")  # the node's own CIB after it ran a while
    (state / "launcher.pid").write_text("7\n")  # left by a killed container
    install_node(config_dir, etc, state, tmp_path / "run" / "resource-agents")
    assert (state / "cib.xml").read_text() == "<cib/>"
    assert not (state / "launcher.pid").exists()


def test_the_image_installs_as_the_readme_does() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text().splitlines()
    runs = [line.removeprefix("RUN ").strip() for line in dockerfile if line.startswith("RUN ")]
    assert runs == ["./setup.sh packages && rm -rf /var/lib/apt/lists/*", "./setup.sh install"]
    readme = (REPO / "README.md").read_text()
    assert readme.split("```sh\n")[1].startswith("./setup.sh lab")
    assert "./setup.sh install" in readme
    # lab and test run the very steps of install, before anything else they do; packages
    # stops after install's Debian packages
    setup = (REPO / "setup.sh").read_text().splitlines()
    stop = setup.index('[ "$mode" = install ] && exit 0')
    differences = [line for line in setup[:stop] if "$mode" in line and "case" not in line]
    assert differences == [
        "[ \"$mode\" = install ] && python_extras='.'",
        '[ "$mode" = packages ] && exit 0',
    ]
    oracles = [line for line in setup[:stop] if "apt_packages+=" in line]
    assert oracles == [
        'case "$mode" in lab|test) apt_packages+=(pacemaker-cli-utils crmsh docker-compose);; esac'
    ]
    packages_done = setup.index('[ "$mode" = packages ] && exit 0')
    packages_code = " ".join(line for line in setup[:packages_done] if not line.startswith("#"))
    assert "apt-get install" in packages_code and ".venv" not in packages_code
    packages = " ".join(setup[:stop])
    for package in ("resource-agents", "fence-agents", "pacemaker-common", "python3-venv"):
        assert package in packages
