"""Plain slotted value classes: what a frozen dataclass gives, without its start-up cost.

`dataclass()` writes each class's methods as source text and compiles it with exec when
the module is imported; a command that imports a few dozen of them (crm_simulate) spends
a tenth of its start-up there, and a frozen dataclass's __init__ also pays
object.__setattr__ per field for every instance. A `Record` subclass instead writes its
own `__init__`, whose parameters are the fields in declaration order (defaults as a
dataclass would have them), and lists the same names in `__slots__`:

    class Point(Record):
        __slots__ = ("x", "y")

        def __init__(self, x: int, y: int = 0) -> None:
            self.x, self.y = x, y

Record adds value equality and hashing over the fields (as `@dataclass(frozen=True)`),
the dataclass-style repr, `replace(**changes)` (dataclasses.replace) and `__fields__`,
the field names in order, which messaging.codec uses to encode and build records.

Invariants: `__fields__` is `__init__`'s parameter names, and every field is a slot;
instances are not changed after `__init__` (a convention, as nothing enforces it at run
time: the classes that need to be values say so and never assign outside __init__).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (tools' start-up)
if TYPE_CHECKING:
    from typing import Any, ClassVar, Self


class Record:
    """Base of plain slotted value classes (see the module docstring)."""

    __slots__ = ()
    __fields__: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__init__.__code__
        cls.__fields__ = code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount]
        slots = {name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())}
        missing = [name for name in cls.__fields__ if name not in slots]
        if missing:
            raise TypeError(f"{cls.__name__}: fields {missing} are not in __slots__")

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.__fields__])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__fields__)
        return f"{type(self).__qualname__}({shown})"

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` applied (dataclasses.replace for records)."""
        values = {name: getattr(self, name) for name in self.__fields__}
        values.update(changes)
        return type(self)(**values)


def field_defaults(cls: type[Record]) -> dict[str, Any]:
    """Field name -> default value, for the fields that have one."""
    init = cls.__init__
    names = cls.__fields__
    positional = init.__code__.co_argcount - 1
    defaults = dict(zip(names[positional - len(init.__defaults__ or ()):positional],
                        init.__defaults__ or (), strict=True))
    return defaults | dict(init.__kwdefaults__ or {})
