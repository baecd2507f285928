"""authkeys signing: real Heartbeat 3.0.6 packets verify with our crc/md5/sha1, plus the
authkeys file rules (format, index, permissions) and generation of new files."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.auth import AuthKey, KeyRing, heartbeat_crc
from messaging.authkeys import load_authkeys, parse_authkeys, render_authkeys, write_authkeys
from messaging.errors import ConfigError


def _udp_payloads(path: Path) -> Iterator[bytes]:
    """UDP payloads of a classic pcap file (Ethernet or Linux cooked), IPv4 only."""
    data = path.read_bytes()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    link_header = {1: 14, 113: 16}[linktype]
    offset = 24
    while offset + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        ip = frame[link_header:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        yield ip[ihl + 8:]


def _signed_part_and_token(payload: bytes) -> tuple[bytes, str]:
    """Split a netstring Heartbeat packet into the signed bytes and its trailer token."""
    assert payload.startswith(b"###\n")
    end = payload.index(b"%%%\n") + 4
    length, rest = payload[end:].split(b":", 1)
    return payload[:end], rest[: int(length)].decode()


@pytest.mark.parametrize(
    ("capture", "key"),
    [("ucast-sha1.pcap", AuthKey(1, "sha1", b"SECRET")),
     ("ucast-md5.pcap", AuthKey(1, "md5", b"SECRET")),
     ("ucast-crc.pcap", AuthKey(1, "crc")),
     ("3node-mcast-sha1.pcap", AuthKey(1, "sha1", b"SECRET"))],
)
def test_real_heartbeat_packets_verify(shared: Path, capture: str, key: AuthKey) -> None:
    ring = KeyRing(1, (key,))
    checked = 0
    for payload in _udp_payloads(shared / "reference" / "heartbeat-captures" / capture):
        signed, token = _signed_part_and_token(payload)
        assert key.token(signed) == token
        assert ring.verify_token(signed, token)
        assert not ring.verify_token(signed + b"x", token)
        checked += 1
    assert checked > 20


def test_wrong_key_does_not_verify_heartbeat_packets(shared: Path) -> None:
    path = shared / "reference" / "heartbeat-captures" / "ucast-sha1.pcap"
    signed, token = _signed_part_and_token(next(_udp_payloads(path)))
    assert not KeyRing(1, (AuthKey(1, "sha1", b"secret"),)).verify_token(signed, token)
    assert not KeyRing(2, (AuthKey(2, "sha1", b"SECRET"),)).verify_token(signed, token)


def test_hmac_methods_match_the_rfc2104_formula() -> None:
    data = b"###\n11:(0)t=status,%%%\n"
    for method, digest in (("sha1", hashlib.sha1), ("md5", hashlib.md5),
                           ("hmac-sha256", hashlib.sha256)):
        key = AuthKey(3, method, b"k3y")  # type: ignore[arg-type]
        expected = hmac.new(b"k3y", data, digest).hexdigest()
        assert key.token(data) == f"3 {expected}"
        assert key.verify(data, bytes.fromhex(expected))


def _bitwise_crc(data: bytes) -> int:
    """The documented CRC written the slow way: poly 0x04C11DB7, MSB first, init 0, ~."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return ~crc & 0xFFFFFFFF


@pytest.mark.parametrize("data", [b"", b"a", b"123456789", bytes(range(256)) * 3])
def test_crc_matches_bitwise_definition(data: bytes) -> None:
    assert heartbeat_crc(data) == _bitwise_crc(data)


def test_crc_hex_has_no_leading_zeros() -> None:
    key = AuthKey(1, "crc")
    for n in range(2000):
        data = str(n).encode()
        value = heartbeat_crc(data)
        assert key.hexdigest(data) == format(value, "x")
        if value < 0x10000000:
            assert len(key.hexdigest(data)) < 8
            return
    pytest.fail("no short crc found")


def test_parse_several_indexes_sign_with_auth_index() -> None:
    ring = parse_authkeys("# keys\nauth 2\n1 sha1 old\n2 hmac-sha256 new # rotated\n3 crc\n")
    assert ring.signing_key() == AuthKey(2, "hmac-sha256", b"new")
    assert [k.index for k in ring.keys] == [1, 2, 3]
    assert ring.get(1) == AuthKey(1, "sha1", b"old")


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("auth 1\n1 sha256 x\n", "authkeys:2", "unknown method"),
        ("auth 1\n1 crc extra\n", "authkeys:2", "crc takes no secret"),
        ("auth 1\n1 sha1\n", "authkeys:2", "needs a secret"),
        ("auth 1\n16 sha1 x\n", "authkeys:2", "not a key index"),
        ("auth 1\n1 sha1 x\n1 md5 y\n", "authkeys:3", "defined twice"),
        ("auth 2\n1 sha1 x\n", "authkeys:1", "no key with that index"),
        ("1 sha1 x\n", "authkeys", "no 'auth"),
        ("auth\n1 sha1 x\n", "authkeys:1", "exactly one"),
        # issue 8 defect 4: Unicode digits were a traceback ('²') or an index ('٣')
        ("auth \u00b2\n1 sha1 x\n", "authkeys:1", "not a key index"),
        ("auth \u0663\n3 sha1 x\n", "authkeys:1", "not a key index"),
        ("auth 1\n1 sha1 x\n\u0663 sha1 y\n", "authkeys:3", "not a key index"),
        ("auth 1\n\uff11 sha1 x\n", "authkeys:2", "not a key index"),
    ],
)
def test_bad_authkeys(text: str, where: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_authkeys(text)
    assert str(caught.value).startswith(f"{where}: ")
    assert words in str(caught.value)


# issue 8 defect 4: writable by group/other (0620, 0602, 0622) was accepted
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620, 0o602, 0o622, 0o610, 0o601])
def test_authkeys_accessible_by_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "authkeys"
    path.write_text("auth 1\n1 sha1 SECRET\n")
    os.chmod(path, mode)
    with pytest.raises(ConfigError, match="bad permissions"):
        load_authkeys(path)
    os.chmod(path, 0o600)
    assert load_authkeys(path).signing_key().secret == b"SECRET"


def test_generated_authkeys_are_private_random_and_loadable(tmp_path: Path) -> None:
    path = write_authkeys(tmp_path / "authkeys")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_authkeys(path).signing_key()
    assert key.method == "hmac-sha256" and len(key.secret) == 64
    other = parse_authkeys(render_authkeys()).signing_key()
    assert other.secret != key.secret
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        write_authkeys(path)
    write_authkeys(path, "sha1", index=4, secret="s3", overwrite=True)
    assert load_authkeys(path).signing_key() == AuthKey(4, "sha1", b"s3")
    assert parse_authkeys(render_authkeys("crc")).signing_key() == AuthKey(1, "crc")


@pytest.mark.parametrize("method,name", [("md5", "md5"), ("sha1", "sha1"),
                                         ("hmac-sha256", "sha256")])
@pytest.mark.parametrize("secret_length", [0, 1, 64, 65, 200])
def test_precomputed_pads_agree_with_the_standard_library_hmac(
        method: str, name: str, secret_length: int) -> None:
    """Secrets longer than a hash block are hashed first (RFC 2104): the stdlib decides."""
    secret = bytes(range(secret_length % 256)) * (secret_length // 256 + 1)
    secret = secret[:secret_length]
    key = AuthKey(1, method, secret)  # type: ignore[arg-type]
    for data in (b"", b"abc", bytes(1500)):
        assert key.digest(data) == hmac.digest(secret, data, name)
