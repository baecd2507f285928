"""Typed msgpack for frozen dataclasses and Records: a tag registry, validated decoding.

A `Registry` maps a tag (a short int on the UDP wire, a string on IPC) to a dataclass or a
messaging.record.Record (both encode the same way: fields in declaration order).
`encode(message)` packs `[tag, [field values in declaration order]]`; nested dataclasses
become plain lists (their type is known from the annotation), enums become their value,
tuples (NamedTuples too) lists, mappings maps. `decode(data)` checks every value against
the class's type hints before building the object, so garbage never reaches a core as a
half-typed message.

Invariants: decoding never raises anything but `RemoteProtocolError`; it never executes
code from the payload (msgpack only, no ext types, no pickle); trailing fields a newer
sender appends beyond our declaration are ignored (forward compatibility), missing ones
fall back to the dataclass default or are an error.
"""

from __future__ import annotations

import enum
import sys
import types
from collections.abc import Callable, Mapping

import msgpack

from messaging.codec_plan import Reject as _Reject
from messaging.codec_plan import decoder as _decoder
from messaging.errors import LocalProtocolError, RemoteProtocolError
from messaging.record import Record, field_defaults

TYPE_CHECKING = False  # typing.TYPE_CHECKING: see _type_hints for why typing is not imported
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")
Tag = int | str
_MAX_DEPTH = 16


def to_plain(value: Any) -> Any:
    """Turn a dataclass/enum/tuple/mapping tree into msgpack-native values."""
    if isinstance(value, Record):
        return [_plain_item(getattr(value, name)) for name in value.__fields__]
    if _is_dataclass(type(value)) and not isinstance(value, type):
        return [_plain_item(getattr(value, name)) for name, _ in _fields(type(value))]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list, frozenset)):
        return [_plain_item(v) for v in value]
    if isinstance(value, Mapping):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    return value


# Values msgpack packs as they are (exact types: an IntEnum or a str Enum is not one).
_NATIVE = frozenset({str, bytes, int, float, bool, type(None)})


def _plain_item(value: Any) -> Any:
    """`to_plain` of a field or item, skipping its checks for a native value (most are: a
    16-node ccm proposal has ~250 names and numbers; the checks were most of its encode)."""
    return value if type(value) in _NATIVE else to_plain(value)


def _bad(where: str, expected: str, data: Any) -> RemoteProtocolError:
    shown = repr(data)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return RemoteProtocolError(f"{where}: expected {expected}, got {shown}")


def _hints(cls: type) -> dict[str, Any]:
    cached = _HINT_CACHE.get(cls)
    if cached is None:
        # a Record's fields are its __init__'s typed parameters
        cached = _type_hints(cls.__init__ if issubclass(cls, Record) else cls)
        _HINT_CACHE[cls] = cached
    return cached


def _type_hints(target: Any) -> dict[str, Any]:
    """typing.get_type_hints(target). Until something imports typing, the annotations are
    evaluated here (`builtin_type_hints`): importing typing (and re with it) was a fifth of
    a live cibadmin's start, and without typing loaded no annotation can hold its forms."""
    typing = sys.modules.get("typing")
    if typing is not None:
        return typing.get_type_hints(target)  # type: ignore[no-any-return]
    return builtin_type_hints(target)


def builtin_type_hints(target: Any) -> dict[str, Any]:
    """typing.get_type_hints of a function or class whose annotations are strings of builtin
    types (int, str | None, tuple[str, ...], a class), evaluated in their module as typing
    does (None becomes NoneType; a class's hints are its bases' first, as typing merges them)."""
    if isinstance(target, type):
        hints: dict[str, Any] = {}
        for base in reversed(target.__mro__):
            namespace = vars(sys.modules[base.__module__])
            # typing reads __dict__ too (inspect.get_annotations: inspect is a start-up cost)
            for name, value in base.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
                hints[name] = _evaluated(value, namespace)
        return hints
    namespace = target.__globals__
    return {name: _evaluated(value, namespace)
            for name, value in target.__annotations__.items()}


def _evaluated(annotation: Any, namespace: dict[str, Any]) -> Any:
    # a typing.NamedTuple keeps a string annotation as a typing.ForwardRef
    annotation = getattr(annotation, "__forward_arg__", annotation)
    value = eval(annotation, namespace) if isinstance(annotation, str) else annotation
    return type(None) if value is None else value


def _origin_and_args(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    """typing.get_origin(hint), typing.get_args(hint); X | Y and builtin generics such as
    tuple[str, ...] without typing, whose own forms exist only once it is loaded."""
    if type(hint) is types.UnionType or type(hint) is types.GenericAlias:
        return (types.UnionType if type(hint) is types.UnionType else hint.__origin__,
                hint.__args__)
    typing = sys.modules.get("typing")
    if typing is None:
        return None, ()
    return typing.get_origin(hint), typing.get_args(hint)


def _is_typing(value: Any, name: str) -> bool:
    """Whether `value` is typing's `name` (Any, Union, Literal) without importing typing."""
    typing = sys.modules.get("typing")
    return typing is not None and value is getattr(typing, name)


_HINT_CACHE: dict[type, dict[str, Any]] = {}
# Leaf types whose msgpack value is already the Python value (float is not: an int on the
# wire becomes a float); each is checked by `_scalar` alone.
_LEAVES = frozenset({str, bytes, int, bool})


def _scalar(hint: Any, data: Any, where: str) -> Any:
    if hint is bool:
        if isinstance(data, bool):
            return data
    elif hint is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
    elif hint is float:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return float(data)
    elif hint is type(None):
        if data is None:
            return None
    elif (hint in (str, bytes) and isinstance(data, hint)) or _is_typing(hint, "Any"):
        return data
    raise _bad(where, getattr(hint, "__name__", str(hint)), data)


def from_plain(hint: Any, data: Any, where: str = "message", depth: int = 0) -> Any:
    """Rebuild a value of type `hint` from msgpack data, or raise RemoteProtocolError."""
    if depth > _MAX_DEPTH:
        raise RemoteProtocolError(f"{where}: nested too deeply")
    if hint in _LEAVES:  # most values are leaves: no typing introspection for them
        return _scalar(hint, data, where)
    supertype = getattr(hint, "__supertype__", None)
    if supertype is not None:  # NewType
        return from_plain(supertype, data, where, depth)
    origin, args = _origin_and_args(hint)
    if origin is types.UnionType or _is_typing(origin, "Union"):
        for option in args:
            try:
                return from_plain(option, data, where, depth + 1)
            except RemoteProtocolError:
                continue
        raise _bad(where, str(hint), data)
    if _is_typing(origin, "Literal"):
        if data in args and type(data) in {type(a) for a in args}:
            return data
        raise _bad(where, f"one of {args}", data)
    if origin is tuple:
        return _tuple(args, data, where, depth)
    if origin in (dict, Mapping):
        return _mapping(args, data, where, depth)
    if isinstance(hint, type):
        return _from_class(hint, data, where, depth)
    return _scalar(hint, data, where)


def _from_class(hint: type, data: Any, where: str, depth: int) -> Any:
    """A value of a plain class: an enum member, a record or dataclass, a NamedTuple, or a
    scalar of that type."""
    if issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except (ValueError, TypeError):
            raise _bad(where, hint.__name__, data) from None
    if issubclass(hint, Record) or _is_dataclass(hint):
        return _build_checked(hint, data, where, depth + 1)
    if issubclass(hint, tuple) and hasattr(hint, "_fields"):
        # a NamedTuple: typed items (cached: every CIB message carries a Version, and
        # typing.get_type_hints was a tenth of decoding one)
        fields = tuple(_hints(hint).values())
        return hint(*_tuple(fields, data, where, depth))
    return _scalar(hint, data, where)


def _tuple(args: tuple[Any, ...], data: Any, where: str, depth: int) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise _bad(where, "list", data)
    if len(args) == 2 and args[1] is Ellipsis:
        if args[0] in _LEAVES:
            return _leaf_items(args[0], data, where)
        return tuple(from_plain(args[0], v, f"{where}[{i}]", depth + 1) for i, v in enumerate(data))
    if len(args) != len(data):
        raise _bad(where, f"{len(args)} items", data)
    pairs = enumerate(zip(args, data, strict=True))
    return tuple(from_plain(a, v, f"{where}[{i}]", depth + 1) for i, (a, v) in pairs)


def _leaf_items(hint: type, data: list[Any], where: str) -> tuple[Any, ...]:
    """A `tuple[str, ...]` or the like, checked item by item without building each item's
    `where` (a 16-node ccm proposal carries 16 reports of 15 names: a per-item path and
    type introspection were most of its 2 ms decode on every member)."""
    for index, item in enumerate(data):
        if not isinstance(item, hint) or (hint is int and isinstance(item, bool)):
            _scalar(hint, item, f"{where}[{index}]")  # raises with the item's place
    return tuple(data)


def _mapping(args: tuple[Any, ...], data: Any, where: str, depth: int) -> dict[Any, Any]:
    if not isinstance(data, dict):
        raise _bad(where, "map", data)
    if not args:  # a bare typing.Dict or Mapping: typing is loaded
        import typing

        args = (typing.Any, typing.Any)
    key_hint, value_hint = args
    return {
        from_plain(key_hint, k, f"{where} key", depth + 1): from_plain(
            value_hint, v, f"{where}[{k!r}]", depth + 1
        )
        for k, v in data.items()
    }


def _is_dataclass(cls: type) -> bool:
    """dataclasses.is_dataclass for a class, without importing dataclasses (and inspect):
    a command whose messages are all Records never loads them."""
    return hasattr(cls, "__dataclass_fields__")


def _fields(cls: type) -> tuple[tuple[str, bool], ...]:
    """(name, has a default) per field of a dataclass or Record, in declaration order."""
    cached = _FIELD_CACHE.get(cls)
    if cached is None:
        if issubclass(cls, Record):
            defaults = field_defaults(cls)
            cached = tuple((name, name in defaults) for name in cls.__fields__)
        else:
            import dataclasses  # loaded already: cls is one

            cached = tuple((f.name, f.default is not dataclasses.MISSING
                            or f.default_factory is not dataclasses.MISSING)
                           for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        _FIELD_CACHE[cls] = cached
    return cached


_FIELD_CACHE: dict[type, tuple[tuple[str, bool], ...]] = {}


def build(cls: type[T], data: Any, where: str = "message", depth: int = 0) -> T:
    """Build dataclass `cls` from its positional field list, validating every field."""
    try:
        return _decoder(cls, depth, whole=True)(data)  # type: ignore[no-any-return]
    except _Reject:  # the checking walk decides, and names the place of what is wrong
        return _build_checked(cls, data, where, depth)


def _build_checked(cls: type[T], data: Any, where: str, depth: int) -> T:
    if not isinstance(data, list):
        raise _bad(where, f"{cls.__name__} fields", data)
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for index, (name, optional) in enumerate(_fields(cls)):
        if index < len(data):
            values[name] = from_plain(hints[name], data[index], f"{where}.{name}", depth + 1)
        elif not optional:
            raise RemoteProtocolError(f"{where}: {cls.__name__} lacks field {name!r}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise RemoteProtocolError(f"{where}: invalid {cls.__name__}: {error}") from None


def unpack(data: bytes, *, max_size: int = 1 << 20) -> Any:
    """msgpack-decode `data` with safe limits; any failure is a RemoteProtocolError."""
    if len(data) > max_size:
        raise RemoteProtocolError(f"message of {len(data)} bytes exceeds {max_size}")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as error:  # msgpack raises a zoo of types on garbage
        raise RemoteProtocolError(f"undecodable msgpack ({type(error).__name__})") from None


def pack(value: Any) -> bytes:
    """msgpack-encode msgpack-native `value` (bytes stay bin, str stays str)."""
    try:
        return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as error:
        raise LocalProtocolError(f"cannot encode {type(value).__name__}: {error}") from None


class Registry:
    """Tag <-> dataclass table for one protocol (wire messages, or IPC messages).

    A registry may extend a `parent` (an IPC protocol extends the envelope's built-in
    messages: ping, pong, error): the parent's tags are known and cannot be reused.
    """

    def __init__(self, name: str, parent: Registry | None = None) -> None:
        self.name = name
        self.parent = parent
        self._by_tag: dict[Tag, type] = dict(parent._by_tag) if parent else {}
        self._by_class: dict[type, Tag] = dict(parent._by_class) if parent else {}

    def register(self, tag: Tag) -> Callable[[type[T]], type[T]]:
        """Class decorator: `@registry.register(3)` binds tag 3 to the class."""

        def bind(cls: type[T]) -> type[T]:
            if tag in self._by_tag:
                raise LocalProtocolError(f"{self.name}: tag {tag!r} registered twice")
            if not (issubclass(cls, Record) or _is_dataclass(cls)):
                raise LocalProtocolError(f"{self.name}: {cls.__name__} is not a dataclass "
                                         "or Record")
            self._by_tag[tag] = cls
            self._by_class[cls] = tag
            return cls

        return bind

    def tag_of(self, message: object) -> Tag:
        try:
            return self._by_class[type(message)]
        except KeyError:
            raise LocalProtocolError(
                f"{self.name}: {type(message).__name__} is not a registered message"
            ) from None

    def to_wire(self, message: object) -> list[Any]:
        """`[tag, fields]` for `message` (msgpack-native)."""
        return [self.tag_of(message), to_plain(message)]

    def from_wire(self, data: Any) -> object:
        """Inverse of `to_wire`: validate the tag and the fields."""
        if not isinstance(data, list) or len(data) != 2:
            raise _bad(self.name, "[tag, fields]", data)
        tag, fields = data
        cls = self.class_of(tag)
        return build(cls, fields, f"{self.name} {cls.__name__}")

    def class_of(self, tag: Any) -> type:
        """The class registered for `tag`, or RemoteProtocolError."""
        if not isinstance(tag, (int, str)) or isinstance(tag, bool):
            raise _bad(self.name, "a tag", tag)
        cls = self._by_tag.get(tag)
        if cls is None:
            raise RemoteProtocolError(f"{self.name}: unknown message type {tag!r}")
        return cls

    def encode(self, message: object) -> bytes:
        return pack(self.to_wire(message))

    def decode(self, data: bytes) -> object:
        return self.from_wire(unpack(data))

    def classes(self) -> dict[Tag, type]:
        return dict(self._by_tag)
