"""Packing a stream into consecutive groups bounded by count and by size: chunks of rows, messages of
emails, and SendMessageBatch calls all have both limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def packed(items: Iterable[T], *, max_items: int, max_bytes: int, size: Callable[[T], int]) -> Iterator[list[T]]:
    """The items in order, in groups of at most `max_items` whose sizes add up to at most `max_bytes` (an item
    larger than that on its own still forms a group). The same items always give the same groups."""
    group: list[T] = []
    total = 0
    for item in items:
        item_size = size(item)
        if group and (len(group) >= max_items or total + item_size > max_bytes):
            yield group
            group, total = [], 0
        group.append(item)
        total += item_size
    if group:
        yield group
