"""The configuration fuzzer: mutated ha.cf, authkeys and CIBs (seeded).

ha.cf and authkeys: a mutation is either refused with a ConfigError naming the file (and a
line when the problem is on one) or accepted with every invariant the daemons rely on;
any other exception is a crash, an accepted file breaking an invariant is wrongly
accepted. CIBs: each mutation is judged against Debian's crm_simulate (Pacemaker 2.1.5):
accepting a CIB Pacemaker rejects is wrongly accepted; rejecting one it accepts is
counted too ("wrongly rejected" in the examples) but not failed on, because hacluster
bounds some inputs Pacemaker accepts (pengine.input_check limits). Mutations on which
Pacemaker itself aborts (SIGABRT on a fatal assertion) or fails its simulated transition
(exit 1) give no verdict and are listed separately.
"""

from __future__ import annotations

import os
import random
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from messaging.authkeys import MAX_INDEX, load_authkeys, parse_authkeys
from messaging.config import HaConfig, check_node_name, parse_ha_cf
from messaging.errors import ConfigError, HAError, ValidationError
from tests.adversarial.conftest import Tally
from tests.oracle import pacemaker_tool

pytestmark = pytest.mark.adversarial

HA_CF = """cluster_name prod
keepalive 500ms
deadtime 5
warntime 2
initdead 10
udpport 694
bcast eth0
ucast eth1 10.0.0.2
mcast eth2 239.0.0.1 694 1 0
node n1 n2 n3
autojoin none
crm respawn
max_message 65536
"""

NASTY = ["", "0", "-1", "1e-9", "1e300", "inf", "nan", "0.001ms", "5ms", "99999999999999",
         "\u0663", "\u00b2", "\uff11", "1_0", "../../etc/x", "a/b", "a\x01b", "x" * 300,
         "banana", "\u202e", "10.0.0.300", "::1", "0x10", " ", "#", "2s", "0.0", ".5",
         "n1 n1", "\x00", "ms", "s", "1..2", "-"]


def _mutate_lines(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(lines))
        words = lines[index].split()
        choice = rng.random()
        if choice < 0.6 and len(words) > 1:
            words[rng.randrange(1, len(words))] = rng.choice(NASTY)
            lines[index] = " ".join(words)
        elif choice < 0.75:
            del lines[index]
            if not lines:
                lines = [""]
        elif choice < 0.9:
            lines.insert(index, lines[index])
        else:
            lines[index] = rng.choice(NASTY) + " " + rng.choice(NASTY)
    return "\n".join(lines) + "\n"


def _ha_cf_broken(config: HaConfig) -> str | None:
    """Which invariant an accepted configuration breaks, if any."""
    if not 0.01 <= config.keepalive <= 3600:
        return f"keepalive {config.keepalive}"
    if not 2 * config.keepalive < config.deadtime <= 86400:
        return f"deadtime {config.deadtime}"
    if not config.keepalive <= config.warntime < config.deadtime <= config.initdead <= 86400:
        return "timer order"
    for name in config.nodes:
        try:
            check_node_name(name)
        except ValueError:
            return f"node name {name!r}"
    if not config.media or not all(m.interface.isascii() and m.interface.isprintable()
                                   for m in config.media):
        return "media"
    return None


def _judge(outcome: object, action: Callable[[], str | None], where: str) -> None:
    tally_outcome = outcome
    tally_outcome.tried += 1  # type: ignore[attr-defined]
    try:
        broken = action()
    except ConfigError as error:
        tally_outcome.rejected += 1  # type: ignore[attr-defined]
        if not str(error).startswith(where):
            tally_outcome.bad("crashes", f"error does not name {where}: {error}")  # type: ignore[attr-defined]
        return
    except Exception as error:  # anything else is a crash
        tally_outcome.bad("crashes", f"{type(error).__name__}: {error}")  # type: ignore[attr-defined]
        return
    if broken is not None:
        tally_outcome.bad("wrongly_accepted", broken)  # type: ignore[attr-defined]


def test_ha_cf_mutations(tally: Tally, rng: random.Random,
                         budget: Callable[[int, int], int]) -> None:
    outcome = tally["config: ha.cf mutations"]
    for _ in range(budget(300, 20_000)):
        text = _mutate_lines(rng, HA_CF)
        _judge(outcome, lambda text=text: _ha_cf_broken(parse_ha_cf(text, "ha.cf")), "ha.cf")
    assert outcome.crashes == 0 and outcome.wrongly_accepted == 0, outcome.examples


AUTHKEYS = "auth 2\n1 sha1 oldsecret\n2 hmac-sha256 newsecret\n3 crc\n"


def _keys_broken(text: str) -> str | None:
    ring = parse_authkeys(text, "authkeys")
    indexes = [key.index for key in ring.keys]
    if not all(isinstance(i, int) and 1 <= i <= MAX_INDEX for i in indexes):
        return f"indexes {indexes}"
    if ring.active not in indexes or len(set(indexes)) != len(indexes):
        return "active/duplicate index"
    return None


def test_authkeys_mutations(tally: Tally, rng: random.Random,
                            budget: Callable[[int, int], int]) -> None:
    outcome = tally["config: authkeys mutations"]
    for _ in range(budget(300, 20_000)):
        text = _mutate_lines(rng, AUTHKEYS)
        _judge(outcome, lambda text=text: _keys_broken(text), "authkeys")
    assert outcome.crashes == 0 and outcome.wrongly_accepted == 0, outcome.examples


def test_authkeys_modes(tmp_path: Path, tally: Tally) -> None:
    """Every mode with a group or other bit is refused (Heartbeat's rule)."""
    outcome = tally["config: authkeys modes"]
    path = tmp_path / "authkeys"
    path.write_text(AUTHKEYS)
    for mode in range(0o1000):
        if not mode & stat.S_IRUSR:
            continue  # unreadable by its owner: not a permission probe
        os.chmod(path, mode)
        should_refuse = bool(mode & 0o077)
        outcome.tried += 1
        try:
            load_authkeys(path)
        except ConfigError:
            outcome.rejected += 1
            if not should_refuse:
                outcome.bad("crashes", f"mode {mode:04o} refused")
            continue
        except Exception as error:
            outcome.bad("crashes", f"{mode:04o}: {type(error).__name__}: {error}")
            continue
        if should_refuse:
            outcome.bad("wrongly_accepted", f"mode {mode:04o} accepted")
    assert outcome.crashes == 0 and outcome.wrongly_accepted == 0, outcome.examples


# ------------------------------------------------------------------ CIB vs Pacemaker
VALUES = ["", "0x10", "child-3:0", "-1", "99999999999999999999", "\u00fa\u202e", "INFINITY",
          "-INFINITY", "+INFINITY", "1.5", "a b", "true", "banana", "\u0663", "x" * 200,
          "pacemaker-9.9", "none", "Stopped", "n1", "&amp;", "0", "-0"]


def _mutate_cib(rng: random.Random, root: etree._Element) -> etree._Element:
    tree = etree.fromstring(etree.tostring(root))
    elements = [e for e in tree.iter() if isinstance(e.tag, str)]
    for _ in range(rng.randint(1, 2)):
        element = rng.choice(elements)
        choice = rng.random()
        if choice < 0.6 and element.attrib:
            name = rng.choice(sorted(element.attrib))
            element.set(name, rng.choice(VALUES))
        elif choice < 0.8 and element.getparent() is not None:
            parent = element.getparent()
            assert parent is not None
            parent.remove(element)
            elements = [e for e in tree.iter() if isinstance(e.tag, str)]
        else:
            element.set(rng.choice(["id", "score", "epoch", "bogus", "interval"]),
                        rng.choice(VALUES))
    return tree


def _ours(data: bytes) -> bool:
    from pengine.api import schedule
    from pengine.input_check import parse_cib

    try:
        root = parse_cib(data, "cib.xml")
        schedule(root, None)
    except (HAError, ValidationError):
        return False
    return True


def test_cib_mutations_judged_by_pacemaker(shared: Path, tmp_path: Path, tally: Tally,
                                           rng: random.Random,
                                           budget: Callable[[int, int], int]) -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate (pacemaker-cli-utils) is not installed")
    cases = sorted((shared / "conformance/scheduler/xml").glob("*.xml"))
    if not cases:
        pytest.skip("scheduler corpus not present")
    outcome = tally["config: CIB mutations vs crm_simulate"]
    wrongly_rejected = 0
    for _ in range(budget(6, 300)):
        source = rng.choice(cases)
        mutated = etree.tostring(_mutate_cib(rng, etree.parse(str(source)).getroot()))
        path = tmp_path / "cib.xml"
        path.write_bytes(mutated)
        code = subprocess.run([tool, "-x", str(path), "-S"], capture_output=True,
                              check=False, timeout=120).returncode
        if code < 0 or code == 1:
            # Pacemaker aborted (a fatal assertion: SIGABRT) or its simulated transition
            # failed: no verdict on the input to compare with
            tally["config: CIB mutations Pacemaker aborted on"].tried += 1
            tally["config: CIB mutations Pacemaker aborted on"].examples.append(
                f"{source.name}: crm_simulate exit {code}")
            continue
        theirs = code == 0
        outcome.tried += 1
        try:
            ours = _ours(mutated)
        except Exception as error:  # an engine traceback is a crash
            outcome.bad("crashes", f"{source.name}: {type(error).__name__}: {error}")
            continue
        if not ours:
            outcome.rejected += 1
        if ours and not theirs:
            outcome.bad("wrongly_accepted", f"{source.name}: accepted, Pacemaker rejects")
        elif theirs and not ours:
            wrongly_rejected += 1
            if len(outcome.examples) < 5:
                outcome.examples.append(f"{source.name}: rejected, Pacemaker accepts")
    assert outcome.crashes == 0 and outcome.wrongly_accepted == 0, outcome.examples
