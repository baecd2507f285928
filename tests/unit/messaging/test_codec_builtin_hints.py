"""messaging.codec's own evaluation of annotations (used until something imports typing)
gives exactly typing.get_type_hints for every message of every protocol, and the classes
nested in them; a tool decoding a cib reply does not import typing."""

from __future__ import annotations

import importlib
import subprocess
import sys
import typing

import pytest

from messaging.codec import Registry, builtin_type_hints
from messaging.record import Record

PROTOCOL_MODULES = ("messaging.envelope", "messaging.handoff", "messaging.wire",
                    "messaging.cib_contract", "messaging.heartbeat.api", "messaging.membership",
                    "ccm.protocol", "cib.api", "cib.attrd_service", "cib.attrd_api",
                    "cib.replication_messages", "crmd.wire", "crmd.control", "lrmd.api",
                    "stonithd.api")


def _nested(hint: object) -> list[type]:
    """The classes a hint names, through unions and generics."""
    if isinstance(hint, type):
        return [hint]
    return [cls for arg in typing.get_args(hint) for cls in _nested(arg)]


def _message_classes() -> list[type]:
    registries = [value for name in PROTOCOL_MODULES
                  for value in vars(importlib.import_module(name)).values()
                  if isinstance(value, Registry)]
    pending = [cls for registry in registries for cls in registry.classes().values()]
    seen: dict[type, None] = {}
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen[cls] = None
        for hint in typing.get_type_hints(_target(cls)).values():
            pending += [c for c in _nested(hint) if _structured(c)]
    return sorted(seen, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _structured(cls: type) -> bool:
    return (issubclass(cls, Record) or hasattr(cls, "__dataclass_fields__")
            or (issubclass(cls, tuple) and hasattr(cls, "_fields")))


def _target(cls: type) -> object:
    return cls.__init__ if issubclass(cls, Record) else cls


def test_every_protocol_has_messages() -> None:
    assert len(_message_classes()) > 50


@pytest.mark.parametrize("cls", _message_classes(), ids=lambda c: c.__qualname__)
def test_builtin_hints_are_typings(cls: type) -> None:
    assert builtin_type_hints(_target(cls)) == typing.get_type_hints(_target(cls))


DECODE = """
import sys
from messaging.cib_contract import API, CibReply, Version
from messaging.envelope import Kind, decode, encode
reply = CibReply(0, "OK", "<cib/>", ("/cib",), Version(0, 5, 7), "")
decoded = decode(API, encode(API, Kind.REPLY, 3, reply)).message
print(decoded == reply, type(decoded.version).__name__, "typing" in sys.modules)
"""


def test_a_cib_reply_decodes_without_typing() -> None:
    done = subprocess.run([sys.executable, "-c", DECODE], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.split() == ["True", "Version", "False"]
