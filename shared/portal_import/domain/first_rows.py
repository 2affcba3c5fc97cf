"""The row each key was first seen on, held compactly enough for rule 4 on a million-row file.

A dict of the keys costs well over 100 MB for a million Contact IDs; this keeps a 16-byte digest and a 4-byte row
per key in flat arrays, about 36 MB for a million.
"""

from __future__ import annotations

import struct
from array import array
from hashlib import blake2b

# 128-bit digests: the chance that any two of a million distinct keys share one, and a row is reported as a
# duplicate of a Contact it does not share, is about n²/2¹²⁹ ≈ 1e-27.
_DIGEST_BYTES = 16
_HALVES = struct.Struct("<QQ")

# Growing a shard briefly holds two copies of that shard only, not of every key seen. Shards start at sizes
# spread over one growth step, so they grow at different moments and the total rises smoothly instead of in
# x1.5 jumps: 34-37 bytes a key at any count.
_SHARDS = 64
_FIRST_SLOTS = 16
_GROWTH = 1.5
# Linear probing slows sharply above this load.
_MAX_LOAD = 0.7

# Rows are held as 4-byte unsigned ints, and 0 marks an empty slot, so any digest (even all zeros) can be stored.
_MAX_ROW = 2**32 - 1


class _Shard:
    """An open-addressing table with linear probing over parallel arrays: slot i holds a digest's halves and a row."""

    __slots__ = ("highs", "lows", "room", "rows")

    def __init__(self, slots: int) -> None:
        # Machine ints in flat arrays: 20 bytes a slot and no Python object per key.
        self.lows = array("Q", [0]) * slots
        self.highs = array("Q", [0]) * slots
        self.rows = array("I", [0]) * slots
        self.room = int(slots * _MAX_LOAD)

    def first_row_or_add(self, low: int, high: int, row: int) -> int:
        """The row held for this digest, or 0 after recording `row` for it."""
        lows, highs, rows = self.lows, self.highs, self.rows
        slots = len(rows)
        # The top bits of `low` pick the home slot, so any slot count works, not only powers of two.
        index = (low * slots) >> 64
        while found := rows[index]:
            if lows[index] == low and highs[index] == high:
                return found
            index += 1
            if index == slots:
                index = 0
        lows[index] = low
        highs[index] = high
        rows[index] = row
        self.room -= 1
        return 0

    def grown(self) -> _Shard:
        """A larger copy holding the same digests and rows."""
        bigger = _Shard(int(len(self.rows) * _GROWTH))
        for low, high, row in zip(self.lows, self.highs, self.rows, strict=True):
            if row:
                bigger.first_row_or_add(low, high, row)
        return bigger


class FirstRows:
    """Remembers the first row each key was seen on; only a digest of the key is kept, so keys may be any length."""

    def __init__(self) -> None:
        self._shards = [_Shard(round(_FIRST_SLOTS * _GROWTH ** (i / _SHARDS))) for i in range(_SHARDS)]

    def first_row_or_add(self, key: str, row: int) -> int | None:
        """The row `key` was first seen on, or None after recording `row` as that row."""
        if not 0 < row <= _MAX_ROW:
            raise ValueError(f"row must be between 1 and {_MAX_ROW}, got {row}")
        # surrogatepass: a cell can hold any str, and this encoding keeps distinct strs distinct.
        digest = blake2b(key.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES).digest()
        low, high = _HALVES.unpack(digest)
        number = high % _SHARDS
        shard = self._shards[number]
        found = shard.first_row_or_add(low, high, row)
        if found:
            return found
        if not shard.room:
            self._shards[number] = shard.grown()
        return None
