"""Unit tests of the result files: encoding, headers and CSV-injection escaping."""

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_import.domain.results import (
    FAILURE_HEADER,
    NO_VALID_EMAIL,
    NOT_REQUESTED,
    QUEUED,
    SUCCESS_HEADER,
    WOULD_QUEUE,
    CsvResultWriter,
    activation_email_status,
    escape_cell,
)

DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")


def read_back(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("header", [SUCCESS_HEADER, FAILURE_HEADER])
def test_file_with_no_rows_is_a_bom_and_the_header(header: tuple[str, ...]) -> None:
    # Given
    out = io.BytesIO()

    # When
    writer = CsvResultWriter(out, header)

    # Then
    assert out.getvalue() == b"\xef\xbb\xbf" + ",".join(header).encode() + b"\r\n"
    assert writer.rows_written == 0


def test_rows_are_written_in_utf8_with_crlf_and_read_back_as_given() -> None:
    # Given
    out = io.BytesIO()
    writer = CsvResultWriter(out, FAILURE_HEADER)

    # When
    writer.write(
        [
            2,
            "  003T51M4lm8yatX0001 ",
            "Partenaire Privilégié",
            "Invalid Role: 'x, \"y\"'",
        ]
    )
    writer.write([7, "003p6SijozWGSxz0001", "", "Role is required"])

    # Then
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == 3
    assert read_back(data) == [
        list(FAILURE_HEADER),
        [
            "2",
            "  003T51M4lm8yatX0001 ",
            "Partenaire Privilégié",
            "Invalid Role: 'x, \"y\"'",
        ],
        ["7", "003p6SijozWGSxz0001", "", "Role is required"],
    ]
    assert writer.rows_written == 2


def test_writer_leaves_the_file_object_open() -> None:
    # Given
    out = io.BytesIO()

    # When
    writer = CsvResultWriter(out, SUCCESS_HEADER)
    writer.write([2, "0037KWyWfty6uEv0001", "Customer", "0051ScIy9Oee0Sb0001", QUEUED])
    del writer

    # Then
    assert not out.closed


@pytest.mark.parametrize("start", DANGEROUS_STARTS)
def test_formula_looking_cell_is_written_with_a_leading_quote(start: str) -> None:
    # Given
    out = io.BytesIO()
    writer = CsvResultWriter(out, FAILURE_HEADER)

    # When
    writer.write([3, start + 'HYPERLINK("http://x")', "Customer", "Contact not found"])

    # Then
    assert read_back(out.getvalue())[1][1] == "'" + start + 'HYPERLINK("http://x")'


@pytest.mark.parametrize("value", ["", "003dQrnpUsuUL02", "'=already quoted", " =1", "a=b", "\n=x"])
def test_harmless_cell_is_written_unchanged(value: str) -> None:
    # Given / When / Then
    assert escape_cell(value) == value


@given(st.text())
def test_escaped_cell_never_starts_with_a_formula_character(value: str) -> None:
    # Given any text / When
    escaped = escape_cell(value)

    # Then a spreadsheet cannot read it as a formula, and nothing but the quote was added
    assert not escaped.startswith(DANGEROUS_STARTS)
    assert escaped in (value, "'" + value)


@pytest.mark.parametrize(
    ("requested", "valid_email", "validate_mode", "status"),
    [
        (False, True, False, NOT_REQUESTED),
        (False, False, False, NOT_REQUESTED),
        (True, True, False, QUEUED),
        (True, False, False, NO_VALID_EMAIL),
        (False, True, True, NOT_REQUESTED),
        (True, True, True, WOULD_QUEUE),
        (True, False, True, NO_VALID_EMAIL),
    ],
)
def test_activation_email_status(requested: bool, valid_email: bool, validate_mode: bool, status: str) -> None:
    # Given / When / Then
    assert activation_email_status(requested=requested, valid_email=valid_email, validate_mode=validate_mode) == status
