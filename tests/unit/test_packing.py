"""Packing by count and size: every item once, in order, no group over either limit unless one item alone is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portal_import.domain.packing import packed


@given(sizes=st.lists(st.integers(0, 50)), max_items=st.integers(1, 5), max_bytes=st.integers(1, 60))
def test_every_item_lands_once_in_order_within_both_limits(sizes: list[int], max_items: int, max_bytes: int) -> None:
    # Given items of these sizes
    items = list(enumerate(sizes))

    # When they are packed
    groups = list(packed(items, max_items=max_items, max_bytes=max_bytes, size=lambda item: item[1]))

    # Then every item is there once, in order, and a group breaks a limit only when it is a single item
    assert [item for group in groups for item in group] == items
    for group in groups:
        assert group and len(group) <= max_items
        assert sum(size for _, size in group) <= max_bytes or len(group) == 1
