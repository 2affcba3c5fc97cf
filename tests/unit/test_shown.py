"""Unit tests of how values from a file are quoted in sentences: visible escapes, shortening, line breaks."""

import pytest

from portal_import.domain.shown import line_breaks, quoted, visible


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Customer", "Customer"),
        ("Partenaire Privilégié", "Partenaire Privilégié"),
        ("Customer\u202e", "Customer\\u202e"),
        ("Cust\u200bomer", "Cust\\u200bomer"),
        ("a\x00b", "a\\x00b"),
        ("\x1b[31m", "\\x1b[31m"),
        ("two\nlines\r\n", "two\\nlines\\r\\n"),
        ("tab\there", "tab\\there"),
        ("non\xa0breaking", "non\\xa0breaking"),
        ("\U000e0041tag", "\\U000e0041tag"),
        ("日本語 ok", "日本語 ok"),
    ],
)
def test_visible_writes_what_does_not_print_as_its_escape(text: str, shown: str) -> None:
    # Given / When / Then
    assert visible(text) == shown
    assert visible(text).isprintable()


def test_quoted_shortens_before_escaping() -> None:
    # Given / When / Then
    assert quoted("abc", 3) == "'abc'"
    assert quoted("ab\ncd", 3) == "'ab\\n...'"


@pytest.mark.parametrize(("text", "count"), [("", 0), ("a\nb", 1), ("a\r\nb\rc\n", 3), ("\r\n\r\n", 2)])
def test_line_breaks_count_a_crlf_once(text: str, count: int) -> None:
    # Given / When / Then
    assert line_breaks(text) == count
