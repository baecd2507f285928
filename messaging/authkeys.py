"""authkeys: the cluster's shared secrets, in Heartbeat's file format.

    auth 1                 # index used to sign outgoing packets
    1 sha1 <secret>        # several indexes may coexist (key rotation); any listed is accepted
    2 hmac-sha256 <secret> # ours, the default in generated files
    3 crc                  # no secret (and no security)

A file with any group or other permission bit is refused (Heartbeat refuses any mode but
owner-only); so is a secret on a crc
line, a missing secret elsewhere, an index that is not ASCII digits 1..15 (`str.isdigit`
also takes '²' and '٣'), a duplicate index, or an `auth`
index that is not defined. As in Heartbeat the secret is the third token of its line.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import cast

from messaging.auth import METHODS, AuthKey, KeyRing, Method
from messaging.errors import ConfigError, Location

MAX_INDEX = 15
DEFAULT_METHOD: Method = "hmac-sha256"


def parse_authkeys(text: str, source: str = "authkeys") -> KeyRing:
    """Parse authkeys text (permissions are checked by `load_authkeys`).

    Raises:
        ConfigError: naming file and line.
    """
    active: tuple[int, int] | None = None
    keys: dict[int, AuthKey] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        where = Location(source, number)
        if words[0].lower() == "auth":
            if len(words) != 2:
                raise ConfigError("'auth' takes exactly one key index", location=where)
            active = (_index(words[1], where), number)
            continue
        index = _index(words[0], where)
        if index in keys:
            raise ConfigError(f"key index {index} is defined twice", location=where)
        keys[index] = _key(index, words[1:], where)
    if active is None:
        raise ConfigError("no 'auth <index>' line", location=Location(source))
    if active[0] not in keys:
        raise ConfigError(f"auth {active[0]}: no key with that index",
                          location=Location(source, active[1]))
    return KeyRing(active[0], tuple(keys[i] for i in sorted(keys)))


def _index(word: str, where: Location) -> int:
    if not (word.isascii() and word.isdigit()) or not 1 <= int(word) <= MAX_INDEX:
        raise ConfigError(f"{word!r} is not a key index (1-{MAX_INDEX})", location=where)
    return int(word)


def _key(index: int, words: list[str], where: Location) -> AuthKey:
    if not words:
        raise ConfigError(f"key {index}: missing method ({', '.join(METHODS)})", location=where)
    method = words[0].lower()
    if method not in METHODS:
        raise ConfigError(f"key {index}: unknown method {words[0]!r} "
                          f"(expected {', '.join(METHODS)})", location=where)
    if method == "crc":
        if len(words) > 1:
            raise ConfigError(f"key {index}: crc takes no secret", location=where)
        return AuthKey(index, "crc")
    if len(words) < 2:
        raise ConfigError(f"key {index}: {method} needs a secret", location=where)
    return AuthKey(index, cast(Method, method), words[1].encode())


def load_authkeys(path: str | Path) -> KeyRing:
    """Read authkeys, refusing a file with any group or other permission bit.

    Raises:
        ConfigError: unreadable, too open, or invalid (naming file and line).
    """
    where = Location(str(path))
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", location=where) from None
    # Heartbeat refuses a key file group or others can read *or write*: a writable file
    # lets them plant a key of their own.
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"bad permissions {stat.S_IMODE(mode):04o}: authkeys must not be "
                          f"accessible by group or others (chmod 600 {path})", location=where)
    return parse_authkeys(text, str(path))


def render_authkeys(method: Method = DEFAULT_METHOD, *, index: int = 1,
                    secret: str | None = None) -> str:
    """The text of a fresh authkeys file with one key (random 256-bit secret by default)."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r} (expected {', '.join(METHODS)})")
    if not 1 <= index <= MAX_INDEX:
        raise ConfigError(f"key index {index} outside 1-{MAX_INDEX}")
    if method == "crc":
        line = f"{index} crc"
    else:
        key = secret if secret is not None else secrets.token_hex(32)
        if not key or any(c.isspace() for c in key):
            raise ConfigError("a secret must be one word without spaces")
        line = f"{index} {method} {key}"
    return f"# hacluster authkeys: keep mode 0600\nauth {index}\n{line}\n"


def write_authkeys(path: str | Path, method: Method = DEFAULT_METHOD, *, index: int = 1,
                   secret: str | None = None, overwrite: bool = False) -> Path:
    """Create an authkeys file with mode 0600 (never readable by others, even briefly).

    Raises:
        ConfigError: the file exists and `overwrite` is false, or bad arguments.
    """
    target = Path(path)
    text = render_authkeys(method, index=index, secret=secret)
    if target.exists() and not overwrite:
        raise ConfigError("already exists (refusing to overwrite keys)",
                          location=Location(str(target)))
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return target
