"""Packet signing with authkeys methods: Heartbeat's crc/md5/sha1 plus our hmac-sha256.

The digests are computed exactly as Heartbeat 3 / cluster-glue do (interfaces.md §6.4):
md5 and sha1 are RFC 2104 HMACs keyed with the secret's bytes; crc is an unkeyed 32-bit
CRC (polynomial 0x04C11DB7, MSB first, initial value 0, no length appended, result
complemented). `hexdigest` renders them as Heartbeat prints them (lowercase hex, crc
without leading zeros), which is what a Heartbeat packet's `"<index> <hex>"` token holds.
Our own wire format carries the raw digest bytes instead (`digest`), to keep packets small.

Verification uses constant-time comparison. crc is not a signature: anyone can forge it;
it exists for Heartbeat compatibility and is flagged as insecure by the config loader.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Literal

Method = Literal["crc", "md5", "sha1", "hmac-sha256"]
METHODS: tuple[Method, ...] = ("crc", "md5", "sha1", "hmac-sha256")
DIGEST_SIZE: dict[str, int] = {"crc": 4, "md5": 16, "sha1": 20, "hmac-sha256": 32}
_HASH_NAMES = {"md5": "md5", "sha1": "sha1", "hmac-sha256": "sha256"}


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def heartbeat_crc(data: bytes) -> int:
    """Heartbeat's crc auth value (POSIX cksum's CRC without the length step)."""
    crc = 0
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ byte) & 0xFF]
    return ~crc & 0xFFFFFFFF


def _hmac_pads(secret: bytes, hash_name: str) -> tuple[Any, Any]:
    """The inner and outer hash states of RFC 2104's HMAC after the padded key, so that
    signing a message costs two state copies and two short updates."""
    block = hashlib.new(hash_name).block_size
    key = hashlib.new(hash_name, secret).digest() if len(secret) > block else secret
    key = key.ljust(block, b"\0")
    return (hashlib.new(hash_name, bytes(b ^ 0x36 for b in key)),
            hashlib.new(hash_name, bytes(b ^ 0x5C for b in key)))


@dataclass(frozen=True, slots=True)
class AuthKey:
    """One authkeys entry: index (1..15), method and secret (empty for crc)."""

    index: int
    method: Method
    secret: bytes = b""
    _pads: tuple[Any, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method != "crc":
            object.__setattr__(self, "_pads", _hmac_pads(self.secret, _HASH_NAMES[self.method]))

    @property
    def digest_size(self) -> int:
        return DIGEST_SIZE[self.method]

    def digest(self, data: bytes) -> bytes:
        """The raw signature bytes of `data`."""
        if self._pads is None:
            return heartbeat_crc(data).to_bytes(4, "big")
        # HMAC from the key's precomputed pad states: heartbeat signs and verifies every
        # datagram, and OpenSSL 3's one-shot hmac.digest (which looks the digest up and
        # keys it again each call) cost 5-6 us against 2-3 us for two state copies
        inner, outer = self._pads
        inner = inner.copy()
        inner.update(data)
        outer = outer.copy()
        outer.update(inner.digest())
        digest: bytes = outer.digest()
        return digest

    def hexdigest(self, data: bytes) -> str:
        """The signature as Heartbeat writes it (crc: `%lx`, no leading zeros)."""
        if self.method == "crc":
            return f"{heartbeat_crc(data):x}"
        return self.digest(data).hex()

    def token(self, data: bytes) -> str:
        """Heartbeat's auth token: ``"<index> <hex>"``."""
        return f"{self.index} {self.hexdigest(data)}"

    def verify(self, data: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.digest(data), signature)

    def verify_hex(self, data: bytes, hex_signature: str) -> bool:
        return hmac.compare_digest(self.hexdigest(data), hex_signature.strip().lower())


@dataclass(frozen=True, slots=True)
class KeyRing:
    """All keys of an authkeys file: sign with `active`, accept any listed index."""

    active: int
    keys: tuple[AuthKey, ...]

    def signing_key(self) -> AuthKey:
        return self.get(self.active)  # type: ignore[return-value]

    def get(self, index: int) -> AuthKey | None:
        for key in self.keys:
            if key.index == index:
                return key
        return None

    def verify_token(self, data: bytes, token: str) -> bool:
        """Check a Heartbeat ``"<index> <hex>"`` token against `data`."""
        parts = token.split()
        if len(parts) != 2 or not parts[0].isdigit():
            return False
        key = self.get(int(parts[0]))
        return key is not None and key.verify_hex(data, parts[1])
