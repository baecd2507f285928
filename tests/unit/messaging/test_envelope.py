"""The one IPC envelope and the one error mapping: round trips and garbage rejection."""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import pytest

from messaging.envelope import (
    BUILTIN,
    IPC_VERSION,
    Kind,
    Ping,
    Pong,
    decode,
    encode,
    parse_header,
    protocol,
)
from messaging.errors import (
    ConfigError,
    ErrorReply,
    ExitCode,
    HAError,
    LocalProtocolError,
    Location,
    NotFoundError,
    PeerTimeout,
    RemoteProtocolError,
    Report,
    Severity,
    ValidationError,
)

API = protocol("test")


@API.register("greet")
@dataclass(frozen=True, slots=True)
class Greet:
    name: str
    times: int = 1


def test_layout_is_version_kind_id_tag_body() -> None:
    data = encode(API, Kind.REQUEST, 7, Greet("n1", 2))
    assert msgpack.unpackb(data) == [IPC_VERSION, "request", 7, "greet", ["n1", 2]]
    assert decode(API, data).message == Greet("n1", 2)


def test_builtin_messages_are_part_of_every_protocol() -> None:
    assert decode(API, encode(BUILTIN, Kind.REQUEST, 1, Ping())).message == Ping()
    reply = decode(API, encode(API, Kind.REPLY, 1, Pong("lrmd", 42)))
    assert (reply.kind, reply.request_id, reply.message) == (Kind.REPLY, 1, Pong("lrmd", 42))
    with pytest.raises(LocalProtocolError, match="twice"):
        API.register("ping")(Greet)


def test_forward_compatible_trailing_fields_and_defaults() -> None:
    newer = msgpack.packb([IPC_VERSION, "request", 3, "greet", ["n1", 2, "future"]])
    assert decode(API, newer).message == Greet("n1", 2)
    older = msgpack.packb([IPC_VERSION, "request", 3, "greet", ["n1"]])
    assert decode(API, older).message == Greet("n1", 1)


@pytest.mark.parametrize("raw", [
    b"", b"\xc1", b"garbage", msgpack.packb({"v": 1, "t": "greet", "b": {}}),
    msgpack.packb([2, "request", 1, "greet", ["n1"]]),         # another version
    msgpack.packb([True, "request", 1, "greet", ["n1"]]),      # bool is not a version
    msgpack.packb([1, "shout", 1, "greet", ["n1"]]),           # unknown kind
    msgpack.packb([1, ["request"], 1, "greet", ["n1"]]),       # a kind that is no string
    msgpack.packb([1, 1, 1, "greet", ["n1"]]),
    msgpack.packb([1, "request", -1, "greet", ["n1"]]),        # negative id
    msgpack.packb([1, "request", "1", "greet", ["n1"]]),
    msgpack.packb([1, "request", 1, "nope", []]),              # unknown tag
    msgpack.packb([1, "request", 1, "greet", [5]]),            # wrong field type
    msgpack.packb([1, "request", 1, "greet", []]),             # missing field
    msgpack.packb([1, "request", 1, "greet", {"name": "x"}]),  # body not a list
    msgpack.packb([1, "error", 1, "greet", ["n1"]]),           # error kind, non-error body
    msgpack.packb([1, "reply", 1, "error", ["X", 1, "m"]]),    # error body, reply kind
    msgpack.packb([1, "request", 1, "greet"]),
])
def test_garbage_is_a_remote_protocol_error(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode(API, raw)


def test_size_is_checked_before_unpacking() -> None:
    data = encode(API, Kind.REQUEST, 1, Greet("x" * 2000))
    with pytest.raises(RemoteProtocolError, match="exceeds 1024"):
        parse_header(data, max_size=1024)


def test_error_frames_must_carry_an_error_reply() -> None:
    with pytest.raises(LocalProtocolError):
        encode(API, Kind.ERROR, 1, Greet("x"))


@pytest.mark.parametrize("error", [
    ConfigError("bad ha.cf"), NotFoundError("no such resource"), PeerTimeout("slow"),
    RemoteProtocolError("garbled"),
])
def test_error_mapping_keeps_class_code_and_message(error: HAError) -> None:
    reply = ErrorReply.of(error)
    back = decode(API, encode(API, Kind.ERROR, 9, reply)).message
    assert isinstance(back, ErrorReply)
    raised = back.to_exception()
    assert type(raised) is type(error)
    assert (raised.exit_code, raised.message) == (error.exit_code, error.message)


def test_error_mapping_of_foreign_and_unknown_errors() -> None:
    bug = ErrorReply.of(KeyError("x"))
    assert (bug.error, bug.exit_code) == ("InternalError", int(ExitCode.SOFTWARE))
    unknown = ErrorReply("FromTheFuture", int(ExitCode.NOSUCH), "what").to_exception()
    assert type(unknown) is HAError and unknown.exit_code is ExitCode.NOSUCH

    class Custom(NotFoundError):
        pass

    assert ErrorReply.of(Custom("gone")).error == "NotFoundError"  # nearest known ancestor


def test_validation_reports_travel_in_the_error_reply() -> None:
    reports = (
        Report("E-ID", "duplicate id 'r1'", Severity.ERROR, Location("cib.xml", 12, "primitive")),
        Report("W-OP", "no monitor", Severity.WARNING, Location("<stdin>", None, "")),
    )
    error = ValidationError("2 problems", reports)
    back = decode(API, encode(API, Kind.ERROR, 3, ErrorReply.of(error))).message
    raised = back.to_exception()
    assert isinstance(raised, ValidationError)
    assert raised.reports == reports
    assert str(raised.reports[0]) == "cib.xml:12: primitive: error: duplicate id 'r1' [E-ID]"


def test_an_error_reply_of_an_older_peer_has_no_reports() -> None:
    old = msgpack.packb([IPC_VERSION, "error", 4, "error",
                         ["ValidationError", int(ExitCode.CONFIG), "bad"]])
    raised = decode(API, old).message.to_exception()
    assert isinstance(raised, ValidationError) and raised.reports == ()
