"""Unit tests of reading an import file: encodings, delimiters, header mapping, row numbers and rejections."""

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal_import.domain.reader import (
    FileRejected,
    ImportFile,
    Limits,
    Record,
    map_header,
    open_import,
)

MIXED = Path(__file__).resolve().parents[1] / "fixtures" / "mixed"
ROLE = "Partenaire Privilégié"


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[start : start + size] for start in range(0, len(data), size))


def read(data: bytes, limits: Limits | None = None, chunk_size: int = 8192) -> list[Record]:
    return list(open_import(pieces(data, chunk_size), limits or Limits()).records())


def rows(data: bytes) -> list[tuple[int, str, str]]:
    return [(record.row_number, record.contact_id, record.role) for record in read(data)]


def rejection(data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(FileRejected) as caught:
        read(data, limits)
    message = str(caught.value)
    # Every rejection is one sentence a person can act on.
    assert message.endswith(".")
    assert message[0].isupper()
    return message


# --- header mapping ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ["ContactId", "Role"],
        ["contact id", "role"],
        ["CONTACT_ID", "ROLE"],
        ["Contact Id", " Role "],
        ["\ufeffContactId", "Role"],
        ["contact-id", "rOlE"],
    ],
)
def test_header_variants_map_to_the_two_columns(header: list[str]) -> None:
    # Given / When / Then
    assert map_header(header) == {"ContactId": 0, "Role": 1}


def test_columns_may_come_in_any_order_with_extra_columns_ignored() -> None:
    # Given / When
    found = rows(b"Notes,Role,Email,Contact ID\r\nhello,Customer,a@b.c,0037KWyWfty6uEv0001\r\n")

    # Then
    assert found == [(2, "0037KWyWfty6uEv0001", "Customer")]


def test_short_record_gives_empty_cells() -> None:
    # Given / When / Then
    assert rows(b"ContactId,Notes,Role\n0037KWyWfty6uEv0001\n") == [(2, "0037KWyWfty6uEv0001", "")]


def test_long_record_ignores_cells_beyond_the_header() -> None:
    # Given / When / Then
    assert rows(b"ContactId,Role\n0037KWyWfty6uEv0001,Customer,extra,cells\n") == [
        (2, "0037KWyWfty6uEv0001", "Customer")
    ]


def test_non_characters_become_the_replacement_character() -> None:
    # Given a value holding U+FFFF and U+FFFE (SQS refuses a message that holds them)
    data = "ContactId,Role\n003a,A\uffffB\ufffe\n".encode()

    # When / Then
    assert rows(data) == [(2, "003a", "A\ufffdB\ufffd")]


def test_values_are_passed_on_untrimmed() -> None:
    # Given / When / Then
    assert rows(b"ContactId,Role\n  003T51M4lm8yatX0001 , Partner User  \n") == [
        (2, "  003T51M4lm8yatX0001 ", " Partner User  ")
    ]


# --- encodings -----------------------------------------------------------------------------------------------


def test_utf8_without_bom() -> None:
    # Given / When
    opened = open_import([f"ContactId,Role\n003a,{ROLE}\n".encode()])

    # Then
    assert opened.encoding == "utf-8"
    assert [record.role for record in opened.records()] == [ROLE]


def test_utf8_with_bom() -> None:
    # Given / When
    opened = open_import([codecs.BOM_UTF8 + f"ContactId,Role\n003a,{ROLE}\n".encode()])

    # Then
    assert opened.encoding == "utf-8-sig"
    assert [(record.contact_id, record.role) for record in opened.records()] == [("003a", ROLE)]


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_utf16_with_bom_tab_delimited_as_excel_unicode_text(bom: bytes, codec: str) -> None:
    # Given a file saved by Excel as "Unicode text"
    data = bom + f"ContactId\tRole\r\n0037KWyWfty6uEv0001\t{ROLE}\r\n\t\r\n003a\tCustomer\r\n".encode(codec)

    # When
    opened = open_import(pieces(data, 7))

    # Then
    assert (opened.encoding, opened.delimiter) == ("utf-16", "\t")
    assert [(r.row_number, r.contact_id, r.role) for r in opened.records()] == [
        (2, "0037KWyWfty6uEv0001", ROLE),
        (4, "003a", "Customer"),
    ]


def test_windows_1252_file_reads_accented_role() -> None:
    # Given a file saved by Excel as plain "CSV" on Windows
    data = f"ContactId;Role\r\n0037KWyWfty6uEv0001;{ROLE}\r\n".encode("cp1252")

    # When
    opened = open_import(pieces(data, 1))

    # Then
    assert opened.encoding == "cp1252"
    assert [record.role for record in opened.records()] == [ROLE]


def test_a_windows_1252_line_is_read_as_windows_1252_even_where_some_bytes_pass_as_utf8() -> None:
    # Given a Windows-1252 line where 'Â' and a non-breaking space (C2 A0) happen to be a valid UTF-8 sequence,
    # beside an 'é' that is not
    data = "ContactId;Role\r\n003a;Privilégié\r\n003b;SÂ\xa0A Privilégié\r\n".encode("cp1252")

    # When
    opened = open_import(pieces(data, 3))

    # Then the line is read as Windows-1252 throughout, not byte by byte
    assert opened.encoding == "cp1252"
    assert [record.role for record in opened.records()] == ["Privilégié", "SÂ\xa0A Privilégié"]


def test_each_line_is_decoded_on_its_own() -> None:
    # Given lines pasted together from a Windows-1252 file and a UTF-8 one, in both orders
    cp1252 = "003a,Privilégié\r\n".encode("cp1252")
    utf8 = "003b,Partenaire Privilégié\r\n".encode()

    # When / Then each line reads as what it is
    expected = [(2, "003a", "Privilégié"), (3, "003b", "Partenaire Privilégié")]
    assert rows(b"ContactId,Role\r\n" + cp1252 + utf8) == expected
    assert rows(b"ContactId,Role\r\n" + utf8 + cp1252) == [
        (2, "003b", "Partenaire Privilégié"),
        (3, "003a", "Privilégié"),
    ]


def test_windows_1252_byte_after_the_first_64_kb_of_utf8_still_reads_correctly() -> None:
    # Given a UTF-8 file with one Windows-1252 'é' far down
    body = b"".join(b"%019d,Customer\n" % number for number in range(5000))
    data = b"ContactId,Role\n" + body + "003b,Privilégié\n".encode("cp1252")

    # When
    opened = open_import(pieces(data, 1000))
    last = list(opened.records())[-1]

    # Then
    assert opened.encoding == "utf-8"
    assert (last.row_number, last.role) == (5002, "Privilégié")


def test_undefined_windows_1252_byte_does_not_stop_the_import() -> None:
    # Given / When / Then
    assert rows(b"ContactId,Role\n003a,X\x81Y\n") == [(2, "003a", "X\x81Y")]


# --- delimiters and line ends --------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_from_the_header(delimiter: str) -> None:
    # Given a file whose values contain the other candidate characters
    data = f'ContactId{delimiter}Role\n003a{delimiter}"A,B;C|D"\n'.encode()

    # When
    opened = open_import([data])

    # Then
    assert opened.delimiter == delimiter
    assert [(r.contact_id, r.role) for r in opened.records()] == [("003a", "A,B;C|D")]


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        (b"ContactId,Role,Notes; comments; misc\n", ","),
        (b"ContactId;Role;Notes, comments, misc\n", ";"),
        (b"Role|ContactId|a,b,c\n", "|"),
    ],
)
def test_a_column_name_holding_another_delimiter_does_not_outvote_the_real_one(header: bytes, delimiter: str) -> None:
    # Given / When
    opened = open_import([header + f"003a{delimiter}Customer{delimiter}x\n".encode()])

    # Then
    assert opened.delimiter == delimiter


def test_a_quoted_line_break_in_the_header_does_not_stop_the_sniffing() -> None:
    # Given a header whose last column name spans two lines, the second holding commas
    data = b'ContactId;Role;"Notes\nfree, text, here"\n003a;Customer;x\n'

    # When
    opened = open_import([data])

    # Then
    assert opened.delimiter == ";"
    assert [(r.row_number, r.contact_id, r.role) for r in opened.records()] == [(2, "003a", "Customer")]


def test_delimiter_inside_quotes_in_the_header_is_not_counted() -> None:
    # Given / When
    opened = open_import([b'"Contact Id";Role;"a,b,c"\n003a;Customer;x\n'])

    # Then
    assert opened.delimiter == ";"
    assert [(r.contact_id, r.role) for r in opened.records()] == [("003a", "Customer")]


@pytest.mark.parametrize("newline", [b"\r\n", b"\n", b"\r"])
def test_crlf_lf_and_cr_line_ends(newline: bytes) -> None:
    # Given
    data = newline.join([b"ContactId,Role", b"003a,Customer", b"", b"003b,Partner User", b""])

    # When / Then
    assert rows(data) == [(2, "003a", "Customer"), (4, "003b", "Partner User")]


@pytest.mark.parametrize("newline", [b"\r\n", b"\n", b"\r"])
def test_quoted_line_breaks_stay_in_one_record_and_row_numbers_count_records(
    newline: bytes,
) -> None:
    # Given a Notes value spanning three lines, then another record
    data = newline.join(
        [
            b"ContactId,Role,Notes",
            b'003a,"Customer","first',
            b'second, ""quoted""',
            b'third"',
            b"003b,Customer,x",
            b"",
        ]
    )

    # When
    found = read(data)

    # Then
    assert [(r.row_number, r.contact_id) for r in found] == [(2, "003a"), (3, "003b")]


def test_quoted_line_break_in_the_role_is_kept() -> None:
    # Given / When / Then
    assert rows(b'ContactId,Role\n003a,"Partner\nUser"\n') == [(2, "003a", "Partner\nUser")]


def test_blank_records_are_skipped_but_keep_their_row_numbers() -> None:
    # Given
    data = b"ContactId,Role,Notes\n,,\n003a,Customer,\n\n  ,\t, \n003b,Customer,\n,,\n"

    # When / Then
    assert rows(data) == [(3, "003a", "Customer"), (6, "003b", "Customer")]


# --- streaming -----------------------------------------------------------------------------------------------


def test_worked_example_row_numbers_match_the_expected_file() -> None:
    # Given
    with (MIXED / "expected.csv").open(newline="", encoding="utf-8") as expected_file:
        expected = [
            (int(row["RowNumber"]), row["InputContactId"], row["InputRole"]) for row in csv.DictReader(expected_file)
        ]

    # When
    found = rows((MIXED / "import.csv").read_bytes())

    # Then
    assert found == expected


@pytest.mark.parametrize("chunk_size", [1, 7, 64 * 1024 + 1])
def test_chunk_boundaries_do_not_change_the_result(chunk_size: int) -> None:
    # Given the worked example in every encoding, with a multi-line quoted field and accents
    text = (MIXED / "import.csv").read_text(encoding="utf-8")
    variants = [
        text.encode("utf-8"),
        codecs.BOM_UTF8 + text.encode("utf-8"),
        codecs.BOM_UTF16_LE + text.replace(",", "\t").encode("utf-16-le"),
        text.replace(",", ";").encode("cp1252"),
    ]

    # When / Then
    for data in variants:
        whole = open_import([data])
        split = open_import(pieces(data, chunk_size))
        assert (split.encoding, split.delimiter) == (whole.encoding, whole.delimiter)
        assert list(split.records()) == list(whole.records())


def test_open_reads_only_the_beginning_and_records_are_read_lazily() -> None:
    # Given a 10 MB file arriving in 1 KB chunks, counting what has been pulled
    pulled = 0

    def chunks() -> Iterator[bytes]:
        nonlocal pulled
        yield b"ContactId,Role\n"
        for _ in range(10_000):
            pulled += 1
            yield b"0037KWyWfty6uEv0001,Customer\n" * 35

    # When the file is opened and its first record read
    opened = open_import(chunks())
    at_open = pulled
    first = next(opened.records())

    # Then only about the first 64 KB has been read
    assert first.row_number == 2
    assert at_open < 100
    assert pulled < 200


# --- rejections ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        codecs.BOM_UTF8,
        codecs.BOM_UTF16_LE,
        b"  \r\n\n",
        codecs.BOM_UTF8 + b"\r\n",
        codecs.BOM_UTF16_LE + " \r\n\t".encode("utf-16-le"),
    ],
)
def test_empty_file_is_rejected(data: bytes) -> None:
    # Given / When / Then
    assert rejection(data).startswith("The file is empty;")


def test_empty_first_row_is_rejected() -> None:
    # Given / When / Then
    assert "first row of the file is empty" in rejection(b",,\n0037KWyWfty6uEv0001,Customer\n")


def test_file_without_a_header_is_rejected() -> None:
    # Given a file that starts with data
    message = rejection(b"0037KWyWfty6uEv0001,Customer\n")

    # Then
    assert message == (
        "The first row of the file must be a header naming the ContactId and Role columns (found columns: "
        "0037KWyWfty6uEv0001, Customer); add a header row such as ContactId,Role and upload the file again, or, if "
        "the file's columns have names of their own, upload it as it is with them named: "
        "`--metadata contactid-column=NAME,role-column=NAME` (aws s3 cp) or "
        "`portal-import submit FILE --contact-id-column NAME --role-column NAME`."
    )


def test_missing_contact_id_column_is_rejected() -> None:
    # Given / When / Then
    assert rejection(b"Id,Role\n003a,Customer\n") == (
        "The file has no ContactId column (found columns: Id, Role); rename the column that holds the Contact IDs to "
        "ContactId and upload the file again, or upload it as it is with that column named: "
        "`--metadata contactid-column=NAME` (aws s3 cp) or `portal-import submit FILE --contact-id-column NAME`."
    )


def test_missing_role_column_is_rejected() -> None:
    # Given / When / Then
    assert rejection(b"ContactId,Notes\n003a,x\n") == (
        "The file has no Role column (found columns: ContactId, Notes); rename the column that holds the Role names "
        "to Role and upload the file again, or upload it as it is with that column named: "
        "`--metadata role-column=NAME` (aws s3 cp) or `portal-import submit FILE --role-column NAME`."
    )


def test_two_columns_for_one_field_is_rejected() -> None:
    # Given / When / Then
    assert rejection(b"ContactId,Role,contact id\n003a,Customer,003b\n") == (
        "The file has two ContactId columns (column 1 'ContactId' and column 3 'contact id'); "
        "keep one of them and upload the file again."
    )


def test_long_header_is_listed_shortly() -> None:
    # Given / When
    message = rejection(",".join(f"Column{number}" for number in range(30)).encode() + b"\n")

    # Then
    assert "Column9 and 20 more);" in message


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",  # an .xlsx workbook
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",  # an image
        bytes(range(256)) * 4,
        b"ContactId,Role\n" + b"003a\x00\x00\x00,C\n" * 3,  # more NULs than stray ones
    ],
)
def test_binary_content_is_rejected(data: bytes) -> None:
    # Given / When / Then
    assert rejection(data) == (
        "The file is not a CSV text file (it holds binary data, as a workbook, an archive or an image does); "
        "save it from your spreadsheet as CSV UTF-8 and upload it again."
    )


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_its_byte_order_mark_is_rejected_as_such(codec: str) -> None:
    # Given / When / Then
    assert rejection("ContactId\tRole\r\n003a\tCustomer\r\n".encode(codec)).startswith(
        "The file looks like UTF-16 text without a byte order mark"
    )


def test_a_stray_nul_stays_in_its_row_instead_of_rejecting_the_file() -> None:
    # Given a CSV whose one cell holds a NUL (pasted from another system), and one far down the file
    body = b"".join(b"%019d,Customer\n" % number for number in range(1000))
    data = b"ContactId,Role\n003a\x00b,Customer\n" + body + b"003c,Cust\x00omer\n"

    # When
    found = rows(data)

    # Then the two rows carry their NUL on to the rules (which fail them); every other row reads as written
    assert found[0] == (2, "003a\x00b", "Customer")
    assert found[-1] == (1003, "003c", "Cust\x00omer")
    assert len(found) == 1002


def test_control_characters_in_a_rejected_header_are_not_echoed() -> None:
    # Given a header whose names hold a line break and an escape character
    message = rejection(b'"Contact\nNumber",Ro\x1ble\n003a,C\n')

    # Then the sentence stays on one line and shows what it cannot print as an escape
    assert "(found columns: Contact Number, Ro\\x1ble);" in message


def test_too_many_rows_is_rejected_mid_stream_after_the_allowed_rows() -> None:
    # Given a limit of 2 rows and a file of 3 (plus a blank record, which does not count)
    data = b"ContactId,Role\n003a,C\n,\n003b,C\n003c,C\n"
    records = open_import([data], Limits(max_rows=2)).records()

    # When / Then
    assert [next(records).contact_id, next(records).contact_id] == ["003a", "003b"]
    with pytest.raises(
        FileRejected,
        match=r"^The file has more than 2 rows; split it into files of at most 2 rows",
    ):
        next(records)


def test_exactly_max_rows_is_accepted() -> None:
    # Given / When / Then
    assert len(read(b"ContactId,Role\n003a,C\n\n003b,C\n", Limits(max_rows=2))) == 2


def test_value_at_the_field_limit_is_accepted() -> None:
    # Given / When / Then
    assert rows(b"ContactId,Role\n003a," + b"x" * 32_000 + b"\n")[0][2] == "x" * 32_000


def test_oversized_field_is_rejected_naming_the_row() -> None:
    # Given / When
    message = rejection(
        b"ContactId,Role\n003a,short\n003b," + b"x" * 11 + b"\n",
        Limits(max_field_chars=10),
    )

    # Then
    assert message.startswith("Row 3 has a value longer than 10 characters")


def test_unclosed_quote_is_rejected_instead_of_swallowing_the_file() -> None:
    # Given a quote opened on row 2 and never closed
    data = b'ContactId,Role\n003a,"Customer\n' + b"003b,Customer\n" * 5000

    # When / Then
    assert rejection(data).startswith("Row 2 has a value longer than 32,000 characters, often because a quote")


def test_a_line_as_long_as_allowed_keeps_its_line_end_whole() -> None:
    # Given a record of exactly the longest line allowed, ended by CRLF, then a row
    data = b"ContactId,Role\r\n" + b"," * 1_000_000 + b"\r\n003a,Customer\r\n"

    # When / Then the CRLF is one line end, not a blank record: the next row is row 3
    assert rows(data) == [(3, "003a", "Customer")]


def test_enormous_line_is_rejected() -> None:
    # Given a single 2 MB line of separators
    data = b"ContactId,Role\n" + b"," * 2_000_000

    # When / Then
    assert rejection(data).startswith("Row 2 has a line longer than")


def test_reading_leaves_the_process_wide_csv_field_limit_unchanged() -> None:
    # Given
    before = csv.field_size_limit()

    # When
    read(b"ContactId,Role\n003a,C\n", Limits(max_field_chars=10))

    # Then
    assert csv.field_size_limit() == before


def test_import_file_reports_encoding_and_delimiter() -> None:
    # Given / When
    opened = open_import([b"ContactId|Role\n"])

    # Then
    assert isinstance(opened, ImportFile)
    assert (opened.encoding, opened.delimiter) == ("utf-8", "|")
    assert list(opened.records()) == []


# --- issue 12: quotes, stray bytes, UTF-32, Ctrl-Z, what a rejection logs -----------------------------------


def test_a_quote_still_open_at_the_end_of_the_file_refuses_it_naming_the_row() -> None:
    # Given a file whose fourth row opens a quote that nothing closes: read leniently, rows 5 and 6 would vanish
    data = b'ContactId,Role\n003a,Customer\n003b,Customer\n003c,"Customer\n003d,Customer\n003e,Customer\n'

    # When / Then
    assert rejection(data) == (
        'Row 4 opens a quote (") that is never closed, so every line after it would be read as part of that row; '
        "close the quote or remove it and upload the file again."
    )


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n"])
def test_a_quote_open_on_the_last_line_refuses_the_file(ending: bytes) -> None:
    # Given / When / Then
    assert rejection(b'ContactId,Role\n003a,Customer\n003b,"Customer' + ending).startswith("Row 3 opens a quote")


def test_a_header_that_opens_a_quote_never_closed_is_refused_as_row_1() -> None:
    # Given / When / Then
    assert rejection(b'ContactId,"Role\n003a,Customer\n').startswith("Row 1 opens a quote")


def test_a_quote_closed_lines_later_keeps_those_lines_in_its_cell() -> None:
    # Given valid CSV whose stray quote is closed two lines later
    data = b'ContactId,Role\n003a,"Customer\n003b,Customer\n003c,Customer"\n003d,Customer\n'

    # When / Then the lines are one Role (the rules then fail that row and say why), the next row keeps its place
    assert rows(data) == [(2, "003a", "Customer\n003b,Customer\n003c,Customer"), (3, "003d", "Customer")]


@pytest.mark.parametrize("chunk_size", [1024 * 1024, 64 * 1024, 4096])
def test_a_stray_windows_1252_byte_far_into_utf8_changes_only_its_own_line(chunk_size: int) -> None:
    # Given a UTF-8 Role on row 2, 200 KB of rows, then one Windows-1252 row; read in chunks as large as S3's
    body = b"".join(b"%019d,Customer\n" % number for number in range(10_000))
    data = (
        b"ContactId,Role\n"
        + f"003a,{ROLE}\n".encode()
        + body
        + f"003b,{ROLE}\n".encode("cp1252")
        + f"003c,{ROLE}\n".encode()
    )

    # When
    found = read(data, chunk_size=chunk_size)

    # Then
    assert [(r.row_number, r.role) for r in (found[0], found[-2], found[-1])] == [
        (2, ROLE),
        (10_003, ROLE),
        (10_004, ROLE),
    ]


def test_bytes_that_are_utf8_nowhere_change_only_their_own_line() -> None:
    # Given a truncated sequence and a lone continuation byte 100 KB into a UTF-8 file
    body = b"".join(b"%019d,Customer\n" % number for number in range(5_000))
    data = b"ContactId,Role\n" + f"003a,{ROLE}\n".encode() + body + b"003b,X\xc3\x81\xff\n" + f"003c,{ROLE}\n".encode()

    # When
    found = read(data, chunk_size=1024 * 1024)

    # Then the broken line reads byte for byte as Windows-1252; every other line as UTF-8
    assert (found[0].role, found[-2].role, found[-1].role) == (ROLE, "XÃ\x81ÿ", ROLE)


@pytest.mark.parametrize("bom", [codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE], ids=["le", "be"])
def test_utf32_with_its_byte_order_mark_is_refused_naming_utf32(bom: bytes) -> None:
    # Given (UTF-32 LE's byte order mark begins with UTF-16 LE's)
    codec = "utf-32-le" if bom == codecs.BOM_UTF32_LE else "utf-32-be"
    data = bom + "ContactId,Role\r\n003a,Customer\r\n".encode(codec)

    # When / Then
    assert rejection(data) == (
        "The file is UTF-32 text, which cannot be imported; save it from your spreadsheet as CSV UTF-8 "
        '(or as "Unicode text", which is UTF-16) and upload it again.'
    )


@pytest.mark.parametrize("codec", ["utf-32-le", "utf-32-be"])
def test_utf32_without_its_byte_order_mark_is_refused_naming_utf32(codec: str) -> None:
    # Given / When / Then
    assert rejection("ContactId,Role\r\n003a,Customer\r\n".encode(codec)).startswith("The file is UTF-32 text")


@pytest.mark.parametrize(
    "ending",
    [b"\r\n\x1a", b"\n\x1a", b"\x1a", b"\r\n\x1a\r\n", b"\r\x1a"],
    ids=["crlf", "lf", "no-line-end", "own-line", "cr"],
)
def test_a_dos_end_of_file_byte_is_not_a_row(ending: bytes) -> None:
    # Given / When / Then
    assert rows(b"ContactId,Role\r\n003a,Customer" + ending) == [(2, "003a", "Customer")]


def test_a_dos_end_of_file_byte_in_utf16_is_not_a_row() -> None:
    # Given / When / Then
    data = codecs.BOM_UTF16_LE + "ContactId\tRole\r\n003a\tCustomer\r\n\x1a".encode("utf-16-le")
    assert rows(data) == [(2, "003a", "Customer")]


def test_ctrl_z_before_the_end_stays_in_its_cell() -> None:
    # Given a SUB character inside a row that is not the last
    assert rows(b"ContactId,Role\n003a,Cust\x1a\n003b,Customer\n") == [(2, "003a", "Cust\x1a"), (3, "003b", "Customer")]


def test_invisible_characters_in_a_rejected_header_are_shown_as_escapes() -> None:
    # Given / When / Then
    assert "(found columns: Contact\\u202eId, Ro\\u200ble);" in rejection("Contact\u202eId,Ro\u200ble\n".encode())


def test_a_rejection_that_quotes_the_file_logs_without_it() -> None:
    # Given a file without a header, whose first row holds a name and a phone number
    with pytest.raises(FileRejected) as caught:
        read("003a,Customer,Renée Müller,+49 30 1234567\n".encode())

    # Then the sentence for the uploader quotes the row, the one for logs leaves it out
    assert "Renée Müller, +49 30 1234567" in str(caught.value)
    assert caught.value.loggable.startswith(
        "The first row of the file must be a header naming the ContactId and Role columns (found columns: "
        "<columns left out>); add a header row"
    )


def test_a_rejection_that_quotes_nothing_logs_its_sentence() -> None:
    # Given / When
    with pytest.raises(FileRejected) as caught:
        read(b"")

    # Then
    assert caught.value.loggable == str(caught.value)


def test_lines_swallowed_by_a_quote_in_an_ignored_column_refuse_the_file() -> None:
    # Given a Notes cell whose quote closes two lines later: no rule reads Notes, so row 2 would import and the
    # Contacts of the two lines in it would vanish
    data = b'ContactId,Role,Notes\n003a,Customer,"note\n0037KWyWfty6uEv0001,Customer,x\n003pOlWe4kL5ZYI,Customer,y"\n'

    # When / Then
    assert rejection(data) == (
        "Row 2 holds, in column 3 (Notes), 2 lines with a Contact ID where the ContactId column is: a quote opened on "
        "that row and closed lines later makes them part of that cell, and their Contacts would be neither imported "
        "nor reported; fix the quotes on that row and upload the file again."
    )


@pytest.mark.parametrize(
    "notes",
    [
        b'"first line\nsecond line"',
        b'"a, b\nc, d"',
        b'"x\ncharacteristically, long words"',
        b'"ref\n0037KWyWfty6uEv0001 on its own"',
    ],
)
def test_multi_line_notes_that_hold_no_row_are_read(notes: bytes) -> None:
    # Given / When / Then
    assert rows(b"ContactId,Role,Notes\n003a,Customer," + notes + b"\n003b,Customer,x\n") == [
        (2, "003a", "Customer"),
        (3, "003b", "Customer"),
    ]
