"""Compiled decoders: messaging.codec's type-hint walk done once per type, not per message.

`codec.from_plain` walks a field's type hint for every value it decodes (`get_origin`,
`get_args`, a union tried option by option, a path string such as ``message.nodes[3]``
built for every field in case it is wrong). Every daemon decodes each IPC message that way:
in a 16-node cold start the walk was about a seventh of ccm's, crmd's and cib's CPU.
`decoder(hint, depth)` turns a hint into a plain function once (cached per hint and depth)
that accepts exactly the values the walk accepts and returns the same value; for anything
else it raises `Reject`, and `codec.build` then runs the checking walk, which raises the
`RemoteProtocolError` naming the place (or, for a form this module leaves to it, decides).

Invariants: a compiled decoder never accepts what the walk refuses, never returns another
value than the walk would, and raises nothing but `Reject` where the walk would raise a
RemoteProtocolError (other exceptions, from a class's constructor, are the same ones);
the depth limit is the walk's (`codec._MAX_DEPTH`), counted the same way.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing is not imported: a tool's start path decodes without it
if TYPE_CHECKING:
    from typing import Any

    Decoder = Callable[[Any], Any]


class Reject(Exception):
    """The compiled decoder does not vouch for this value: the checking walk decides."""


_CACHE: dict[tuple[Any, int, bool], Decoder] = {}


def decoder(hint: Any, depth: int, whole: bool = False) -> Decoder:
    """The decoder of values of `hint` at nesting `depth`: as `codec.from_plain(hint, ...,
    depth)` decodes them, or with `whole` as `codec.build(hint, ..., depth)` does."""
    key = (hint, depth, whole)
    try:
        found = _CACHE.get(key)
    except TypeError:  # an unhashable hint: left to the walk
        return _walked(hint, depth)
    if found is None:
        found = _record(hint, depth) if whole else _compile(hint, depth)
        _CACHE[key] = found
    return found


def _reject(data: Any) -> Any:
    raise Reject


def _walked(hint: Any, depth: int) -> Decoder:
    """A form compiled nowhere here: the walk itself, its refusal turned into Reject."""
    from messaging.codec import from_plain
    from messaging.errors import RemoteProtocolError

    def decode(data: Any) -> Any:
        try:
            return from_plain(hint, data, "message", depth)
        except RemoteProtocolError:
            raise Reject from None

    return decode


def _compile(hint: Any, depth: int) -> Decoder:
    from messaging.codec import _MAX_DEPTH, _is_typing, _origin_and_args

    if depth > _MAX_DEPTH:
        return _reject
    leaf = _LEAF_DECODERS.get(hint) if isinstance(hint, type) else None
    if leaf is not None:
        return leaf
    if _is_typing(hint, "Any"):
        return _any
    supertype = getattr(hint, "__supertype__", None)
    if supertype is not None:  # NewType
        return decoder(supertype, depth)
    origin, args = _origin_and_args(hint)
    if origin is types.UnionType or _is_typing(origin, "Union"):
        return _union(tuple(decoder(option, depth + 1) for option in args))
    if _is_typing(origin, "Literal"):
        return _literal(args)
    if origin is tuple:
        return _tuple(args, depth)
    if origin in (dict, Mapping):
        if not args:  # a bare Mapping: keys and values as they come
            return _mapping(_any, _any)
        key, value = args
        return _mapping(decoder(key, depth + 1), decoder(value, depth + 1))
    if isinstance(hint, type):
        return _class(hint, depth)
    return _walked(hint, depth)


def _instance_of(kind: type) -> Decoder:
    def decode(data: Any) -> Any:
        if isinstance(data, kind):
            return data
        raise Reject

    return decode


def _int(data: Any) -> Any:
    if isinstance(data, int) and not isinstance(data, bool):
        return data
    raise Reject


def _float(data: Any) -> Any:
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    raise Reject


def _none(data: Any) -> Any:
    if data is None:
        return None
    raise Reject


def _any(data: Any) -> Any:
    return data


_LEAF_DECODERS: dict[Any, Decoder] = {
    str: _instance_of(str), bytes: _instance_of(bytes), bool: _instance_of(bool), int: _int,
    float: _float, type(None): _none}


def _union(options: tuple[Decoder, ...]) -> Decoder:
    def decode(data: Any) -> Any:
        for option in options:  # the first option that takes it, as the walk tries them
            try:
                return option(data)
            except Reject:
                continue
        raise Reject

    return decode


def _literal(args: tuple[Any, ...]) -> Decoder:
    kinds = {type(arg) for arg in args}

    def decode(data: Any) -> Any:
        if data in args and type(data) in kinds:
            return data
        raise Reject

    return decode


def _tuple(args: tuple[Any, ...], depth: int) -> Decoder:
    if len(args) == 2 and args[1] is Ellipsis:
        item = decoder(args[0], depth + 1)
        if args[0] in (str, bytes, int, bool):
            return _leaf_items(args[0])

        def items(data: Any) -> Any:
            if not isinstance(data, list):
                raise Reject
            return tuple(item(value) for value in data)

        return items
    fixed = tuple(decoder(arg, depth + 1) for arg in args)

    def decode(data: Any) -> Any:
        if not isinstance(data, list) or len(data) != len(fixed):
            raise Reject
        return tuple(one(value) for one, value in zip(fixed, data, strict=True))

    return decode


def _leaf_items(kind: type) -> Decoder:
    def decode(data: Any) -> Any:
        if not isinstance(data, list):
            raise Reject
        for value in data:
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise Reject
        return tuple(data)

    return decode


def _mapping(key: Decoder, value: Decoder) -> Decoder:
    def decode(data: Any) -> Any:
        if not isinstance(data, dict):
            raise Reject
        return {key(k): value(v) for k, v in data.items()}

    return decode


def _class(hint: type, depth: int) -> Decoder:
    from messaging.codec import _hints, _is_dataclass
    from messaging.record import Record

    if issubclass(hint, enum.Enum):
        return _enum(hint)
    if issubclass(hint, Record) or _is_dataclass(hint):
        return decoder(hint, depth + 1, whole=True)
    if issubclass(hint, tuple) and hasattr(hint, "_fields"):  # a NamedTuple
        fields = _tuple(tuple(_hints(hint).values()), depth)
        return lambda data: hint(*fields(data))
    return _walked(hint, depth)


def _enum(hint: type[enum.Enum]) -> Decoder:
    members: dict[Any, Any] = getattr(hint, "_value2member_map_", {})

    def decode(data: Any) -> Any:
        try:  # the lookup Enum's own call starts with
            member = members.get(data)
        except TypeError:
            member = None
        if member is not None:
            return member
        try:
            return hint(data)
        except (ValueError, TypeError):
            raise Reject from None

    return decode


def _record(cls: type, depth: int) -> Decoder:
    from messaging.codec import _fields, _hints

    hints = _hints(cls)
    fields = tuple((name, decoder(hints[name], depth + 1)) for name, _ in _fields(cls))
    required = max((i + 1 for i, (_, optional) in enumerate(_fields(cls)) if not optional),
                   default=0)

    def decode(data: Any) -> Any:
        if not isinstance(data, list) or len(data) < required:
            raise Reject
        values = {name: one(value) for (name, one), value in zip(fields, data, strict=False)}
        try:
            return cls(**values)
        except (TypeError, ValueError):
            raise Reject from None

    return decode
