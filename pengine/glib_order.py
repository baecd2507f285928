"""GLib's orders that leak into Pacemaker's choices: hash-table iteration and list sorting.

Pacemaker keeps a resource's allowed nodes in a GHashTable keyed by node id and, when it
picks a node, sorts g_hash_table_get_values() with g_list_sort (a merge sort). With a
consistent comparison the result is the same whatever the input order, but the balanced
placement strategy's capacity comparison is not transitive, and the search for the most
capable node keeps the first of equals in iteration order, so both depend on where GLib's
open addressing put each key.

Invariants: pure functions; `hash_order` reproduces crm_str_hash and GLib 2.x's bucket index
((hash * 11) mod prime), quadratic probing and in-place resizing for a table filled by
inserting `keys` in order (no removals); `list_sort` is g_list_sort's stable top-down merge.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

_PRIME_MOD = (1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381)
_MIN_SHIFT = 3


def str_hash(text: str) -> int:
    """crm_str_hash, the hash of Pacemaker's string-keyed tables (pcmk__strkey_table):
    GLib's traditional string hash, h = h * 31 + c over signed chars from 0, 32-bit."""
    value = 0
    for byte in text.encode():
        value = (value * 31 + (byte - 256 if byte >= 128 else byte)) & 0xFFFFFFFF
    return max(value, 2)  # 0 and 1 mark unused and deleted buckets


class _Table:
    def __init__(self) -> None:
        self.hashes: list[int] = []
        self.keys: list[str | None] = []
        self.size = self.mod = self.mask = 0
        self._set_shift(_MIN_SHIFT)
        self.hashes, self.keys = [0] * self.size, [None] * self.size
        self.nnodes = self.noccupied = 0

    def _set_shift(self, shift: int) -> None:
        self.size, self.mod, self.mask = 1 << shift, _PRIME_MOD[shift], (1 << shift) - 1

    def _index(self, value: int) -> int:
        return ((value * 11) & 0xFFFFFFFF) % self.mod

    def insert(self, key: str) -> None:
        value = str_hash(key)
        index, step = self._index(value), 0
        while self.hashes[index] != 0:
            if self.hashes[index] == value and self.keys[index] == key:
                return
            step += 1
            index = (index + step) & self.mask
        self.hashes[index], self.keys[index] = value, key
        self.nnodes += 1
        self.noccupied += 1
        if self.size <= self.noccupied + self.noccupied // 16:
            self._resize()

    def _resize(self) -> None:
        old = self.size
        self._set_shift(max(int(self.nnodes * 1.333).bit_length(), _MIN_SHIFT))
        self.hashes += [0] * (self.size - old)
        self.keys += [None] * (self.size - old)
        moved = [False] * self.size
        for start in range(old):
            value = self.hashes[start]
            if value < 2 or moved[start]:
                continue
            self.hashes[start], key = 0, self.keys[start]
            self.keys[start] = None
            while True:  # place it, evicting (and then placing) whatever sat there
                index, step = self._index(value), 0
                while moved[index]:
                    step += 1
                    index = (index + step) & self.mask
                moved[index] = True
                value, self.hashes[index] = self.hashes[index], value
                key, self.keys[index] = self.keys[index], key
                if value < 2:
                    break
        self.noccupied = self.nnodes


@functools.lru_cache(maxsize=1024)
def hash_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Iteration order of a GHashTable after inserting `keys` in order."""
    table = _Table()
    for key in keys:
        table.insert(key)
    return tuple(k for k, v in zip(table.keys, table.hashes, strict=True)
                 if v >= 2 and k is not None)


def list_sort(items: Sequence[T], cmp: Callable[[T, T], int]) -> list[T]:
    """g_list_sort: an odd list's second half takes the extra item (the split walks two
    steps per one); ties keep the left element."""
    if len(items) <= 1:
        return list(items)
    middle = len(items) // 2
    left, right = list_sort(items[:middle], cmp), list_sort(items[middle:], cmp)
    out: list[T] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if cmp(left[i], right[j]) <= 0:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


@functools.lru_cache(maxsize=4096)  # a cluster has few node names, sorted over and over
def node_name_key(name: str) -> tuple[tuple[int, int], ...]:
    """pe__cmp_node_name's order (digit runs compare as numbers, letters without case):
    the order of Pacemaker's node list, hence of a symmetric resource's table inserts."""
    return tuple((0x30, int(run)) if run.isdigit() else (ord(run), 0)
                 for run in re.findall(r"\d+|\D", name.lower()))
