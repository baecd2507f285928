"""The codec's leaf values (str, bytes, int, bool, alone or as `tuple[X, ...]`) are checked
without type introspection per item, and still refused with the place of the bad item."""

from __future__ import annotations

import typing
from dataclasses import dataclass

import pytest

from messaging.codec import build, from_plain
from messaging.errors import RemoteProtocolError
from messaging.version import Version


@dataclass(frozen=True)
class Reported:
    node: str
    version: int
    alive: bool
    reach: tuple[str, ...]
    counts: tuple[int, ...]


def test_leaves_and_leaf_tuples_come_back_as_python_values() -> None:
    value = build(Reported, ["n1", 7, True, ["n2", "n3"], [1, 2]])
    assert value == Reported("n1", 7, True, ("n2", "n3"), (1, 2))
    assert isinstance(value.reach, tuple)


def test_a_bad_item_of_a_leaf_tuple_is_named_by_its_index() -> None:
    with pytest.raises(RemoteProtocolError, match=r"message\.reach\[1\]: expected str"):
        build(Reported, ["n1", 7, True, ["n2", 3], []])


@pytest.mark.parametrize("hint, data", [
    (int, True), (bool, 1), (str, b"n1"), (bytes, "n1"),
    (tuple[int, ...], [1, False]), (tuple[bool, ...], [True, 0]), (tuple[str, ...], "n1"),
])
def test_leaves_refuse_lookalikes(hint: object, data: object) -> None:
    with pytest.raises(RemoteProtocolError):
        from_plain(hint, data)


def test_a_float_field_still_takes_an_int_from_the_wire() -> None:
    assert from_plain(tuple[float, ...], [1, 2.5]) == (1.0, 2.5)
    assert isinstance(from_plain(float, 3), float)


@dataclass(frozen=True)
class Versioned:
    node: str
    version: Version


def test_a_named_tuple_field_is_introspected_once_per_class(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """crmd decodes a Version in most CIB notifications: typing.get_type_hints on each one
    was a visible share of its CPU in a 16-node cold start."""
    asked: list[object] = []
    real = typing.get_type_hints

    def counting(obj: object, *args: object, **kwargs: object) -> dict[str, object]:
        asked.append(obj)
        return real(obj, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(typing, "get_type_hints", counting)
    for epoch in range(3):
        value = build(Versioned, ["n1", [0, epoch, 1]])
        assert value == Versioned("n1", Version(0, epoch, 1))
        assert type(value.version) is Version
    assert asked.count(Version) <= 1
