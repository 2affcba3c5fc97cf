"""Unit tests of FirstRows: it answers exactly as a dict of keys would, through growth, in a fraction of the memory."""

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal_import.domain.first_rows import FirstRows

FIRST_ROW = 2

# Any str a cell could hold, lone surrogates included, from blank-ish to the 32,000-character field limit.
KEYS = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.sampled_from(["", " ", "\t", "\x00", "0", "０", "é", "é", "\ud800", "😀", "\ud83d\ude00"]),
    st.builds(lambda char, size: char * size, st.characters(), st.integers(1_000, 32_000)),
)


def first_rows_by_dict(keys: list[str]) -> list[int | None]:
    seen: dict[str, int] = {}
    answers: list[int | None] = []
    for row, key in enumerate(keys, start=FIRST_ROW):
        answers.append(seen.get(key))
        seen.setdefault(key, row)
    return answers


def first_rows_by_first_rows(keys: list[str]) -> list[int | None]:
    first_rows = FirstRows()
    return [first_rows.first_row_or_add(key, row) for row, key in enumerate(keys, start=FIRST_ROW)]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_answers_exactly_as_a_dict_of_the_keys_would(data: st.DataObject) -> None:
    # Given a sequence of rows whose keys repeat, drawn from a pool of arbitrary keys
    pool = data.draw(st.lists(KEYS, min_size=1, max_size=30, unique=True))
    keys = data.draw(st.lists(st.sampled_from(pool), max_size=200))

    # When each row's key is offered in file order
    answers = first_rows_by_first_rows(keys)

    # Then every row gets the row its key first appeared on, or None for a first appearance
    assert answers == first_rows_by_dict(keys)


def test_first_rows_survive_many_rounds_of_growth() -> None:
    # Given 60,000 distinct keys, each followed later by repeats of keys seen long before
    distinct = [f"003{number:012d}0001" for number in range(60_000)]
    keys = [key for number, key in enumerate(distinct) for key in (key, distinct[number // 3])]

    # When they are offered in that order while the table grows from a few slots to tens of thousands
    answers = first_rows_by_first_rows(keys)

    # Then every repeat still points at its key's first row
    assert answers == first_rows_by_dict(keys)
    assert sum(answer is not None for answer in answers) == 60_000


def test_a_key_keeps_its_first_row_however_often_it_repeats() -> None:
    # Given a key seen on row 7
    first_rows = FirstRows()
    first_rows.first_row_or_add("0037KWyWfty6uEv0001", 7)

    # When it comes again on later rows
    answers = [first_rows.first_row_or_add("0037KWyWfty6uEv0001", row) for row in (8, 9, 1_000_000)]

    # Then each time the answer is row 7
    assert answers == [7, 7, 7]


@pytest.mark.parametrize("row", [0, -1, 2**32])
def test_a_row_that_does_not_fit_is_refused(row: int) -> None:
    # Given / When / Then
    with pytest.raises(ValueError, match="row must be between 1 and"):
        FirstRows().first_row_or_add("0037KWyWfty6uEv0001", row)


def test_100_000_distinct_keys_allocate_under_40_bytes_a_key() -> None:
    # Given 100,000 distinct Contact IDs, made before measuring (40 bytes a key is a million in under 40 MB; kept
    # to 100,000 because tracing every short-lived int makes this the slowest unit test)
    keys = [f"003{number:012d}0001" for number in range(100_000)]

    # When they are all recorded while allocations are traced
    tracemalloc.start()
    try:
        first_rows = FirstRows()
        for row, key in enumerate(keys, start=FIRST_ROW):
            first_rows.first_row_or_add(key, row)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then the most ever allocated at once, growth included, stays under 4 MB
    assert peak < 4_000_000
