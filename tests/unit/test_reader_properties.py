"""Property tests of the reader: whatever the bytes, it refuses the file in one sentence or accounts for every
record; and any table written the way spreadsheets and scripts write CSV reads back exactly."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from portal_import.domain.ids import normalize_contact_id
from portal_import.domain.reader import FileRejected, Limits, Record, open_import
from portal_import.domain.rules import FileChecks, contact_not_found

# Modest counts: the unit suite stays a matter of seconds. `--hypothesis-seed` or a larger
# `max_examples` explores further when the reader changes.
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DELIMITERS = (",", ";", "\t", "|")
NEWLINES = ("\r\n", "\n", "\r")
CONTACT_HEADERS = ("ContactId", "contact id", "CONTACT_ID", "Contact Id", " Contact-ID ", "contactid")
ROLE_HEADERS = ("Role", "role", " ROLE ", "rOlE")
FIELDS = frozenset({"contactid", "role"})

# Pieces of files that steer arbitrary bytes towards the reader's decisions: encodings, quotes, line ends,
# delimiters, header names, bytes that are not UTF-8, NULs and a non-character.
TOKENS = (
    b"ContactId",
    b"Role",
    b"Notes",
    b"003a",
    b"Customer",
    b",",
    b";",
    b"\t",
    b"|",
    b'"',
    b'""',
    b" ",
    b"\r",
    b"\n",
    b"\r\n",
    b"\x00",
    b"\x01",
    b"\x1b",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
    b"\xe9",
    b"\xc3\xa9",
    b"\xc3",
    b"\x81",
    b"\xed\xa0\x80",
    b"\xef\xbf\xbf",
    b"\xf0\x9f\x98\x80",
    b"\xff",
)


@dataclass(frozen=True)
class Read:
    """What reading a file gave: the rejection's message, or every record as (row, contact, role)."""

    rejection: str | None
    records: tuple[tuple[int, str, str], ...]


def read(pieces: list[bytes], limits: Limits) -> Read:
    # Only FileRejected may come out of the reader: anything else fails the property.
    try:
        records = tuple((r.row_number, r.contact_id, r.role) for r in open_import(iter(pieces), limits).records())
    except FileRejected as rejected:
        return Read(str(rejected), ())
    return Read(None, records)


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    """The bytes cut at the given offsets (an offset may repeat: an empty chunk)."""
    points = sorted(min(point, len(data)) for point in cuts)
    starts = [0, *points]
    return [data[start:end] for start, end in zip(starts, [*points, len(data)], strict=True)]


def assert_accounted(result: Read) -> None:
    if result.rejection is not None:
        message = result.rejection
        # One sentence a person can act on: a capital, one line, a full stop.
        assert message[:1].isupper(), message
        assert message.endswith("."), message
        assert "\n" not in message and "\r" not in message, message
        assert message.isprintable(), message
        return
    numbers = [row for row, _, _ in result.records]
    assert all(number >= 2 for number in numbers), numbers
    assert numbers == sorted(set(numbers)), numbers


limits = st.builds(
    Limits,
    max_rows=st.sampled_from([1, 3, 1_000_000]),
    max_field_chars=st.sampled_from([4, 40, 32_000]),
)
cuts = st.lists(st.integers(min_value=0, max_value=5000), max_size=8)
token_bytes = st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join)
headers = st.sampled_from(
    [
        b"ContactId,Role\n",
        b"Contact Id;Role;Notes\r\n",
        b"Notes|Role|contact_id\r",
        codecs.BOM_UTF8 + b"ContactId\tRole\n",
        codecs.BOM_UTF16_LE + "ContactId\tRole\r\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "ContactId\tRole\r\n".encode("utf-16-be"),
        "ContactId;Rôle;Role\r".encode("cp1252"),
    ]
)


# --- (a) any bytes: a clear refusal or every record accounted for ------------------------------------------


@FUZZ
@given(data=st.binary(max_size=3000), limits=limits, cuts=cuts)
@example(data=b"", limits=Limits(), cuts=[])
@example(data=b"ContactId,Role\n003a,\x00\n", limits=Limits(), cuts=[])
def test_any_bytes_are_refused_clearly_or_read_in_order(data: bytes, limits: Limits, cuts: list[int]) -> None:
    # Given / When / Then
    assert_accounted(read(cut(data, cuts), limits))


@FUZZ
@given(data=token_bytes, limits=limits, cuts=cuts)
def test_file_like_bytes_are_refused_clearly_or_read_in_order(data: bytes, limits: Limits, cuts: list[int]) -> None:
    # Given / When / Then
    assert_accounted(read(cut(data, cuts), limits))


@FUZZ
@given(header=headers, body=st.one_of(st.binary(max_size=2000), token_bytes), limits=limits, cuts=cuts)
def test_any_bytes_after_a_valid_header_are_refused_clearly_or_read_in_order(
    header: bytes, body: bytes, limits: Limits, cuts: list[int]
) -> None:
    # Given / When
    result = read(cut(header + body, cuts), limits)

    # Then
    assert_accounted(result)


@FUZZ
@given(header=headers, body=st.one_of(st.binary(max_size=2000), token_bytes), cuts=cuts)
def test_how_the_bytes_arrive_does_not_change_the_result(header: bytes, body: bytes, cuts: list[int]) -> None:
    # Given the same file whole and in arbitrary chunks (empty ones included)
    data = header + body

    # When / Then
    assert read(cut(data, cuts), Limits()) == read([data], Limits())


# --- (b) round trip: a table written as CSV reads back exactly ---------------------------------------------

# What Windows-1252 can hold, tab and line ends included; its five undefined bytes are not characters.
CP1252_CHARS = (
    "".join(sorted({bytes([byte]).decode("cp1252", errors="ignore") for byte in range(0x20, 0x100)} - {"", "\x7f"}))
    + "\t\r\n"
)
# The characters that make CSV hard, plus Unicode line breaks and non-breaking spaces the reader must not split on.
AWKWARD = " \t\r\n\",;|'é€😀\xa0\x85\u2028"


def cell_text(encoding: str) -> st.SearchStrategy[str]:
    if encoding == "cp1252":
        return st.text(alphabet=st.sampled_from(CP1252_CHARS), max_size=10)
    # Any character a text file holds: no lone surrogates, no C0 controls but tab and line ends, and not the
    # two non-characters the reader replaces (tested on their own).
    general = st.characters(
        codec="utf-8",
        exclude_categories=["Cs", "Cc"],
        exclude_characters="\ufffe\uffff",
    )
    return st.text(alphabet=st.one_of(general, st.sampled_from(AWKWARD)), max_size=10)


def _normalized(name: str) -> str:
    """A header name as docs/contracts.md §1 matches it: case, spaces, '_', '-' and a BOM ignored."""
    return "".join(char for char in name if not char.isspace() and char not in "_-\ufeff").casefold()


def _is_other_column(name: str) -> bool:
    # Not ContactId or Role, whichever candidate delimiter a piece of it is read with.
    return all(_normalized(part) not in FIELDS for part in re.split(r"[,;\t|]", name))


@dataclass(frozen=True)
class Table:
    encoding: str
    delimiter: str
    newline: str
    header: list[str]
    contact_column: int
    role_column: int
    rows: list[list[str]]  # [] is an empty line

    def text(self) -> str:
        return "".join(self._line(row) for row in [self.header, *self.rows])

    def _line(self, cells: list[str]) -> str:
        # csv.writer quotes a value holding '\r' or '\n' only when its line terminator holds that character:
        # write with '\r\n', then end the line as the table does.
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.delimiter, lineterminator="\r\n").writerow(cells)
        return buffer.getvalue().removesuffix("\r\n") + self.newline

    def encoded(self) -> bytes:
        text = self.text()
        if self.encoding == "utf-16-le":
            return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
        if self.encoding == "utf-16-be":
            return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
        return text.encode(self.encoding)

    def expected(self) -> tuple[tuple[int, str, str], ...]:
        """Every record that is not blank, with its position in the file (the header is row 1)."""
        return tuple(
            (number, row[self.contact_column], row[self.role_column])
            for number, row in enumerate(self.rows, start=2)
            if any(cell.strip() for cell in row)
        )


@st.composite
def tables(draw: st.DrawFn) -> Table:
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp1252"]))
    text = cell_text(encoding)
    extra_names = draw(st.lists(text.filter(_is_other_column), max_size=3))
    names = [draw(st.sampled_from(CONTACT_HEADERS)), draw(st.sampled_from(ROLE_HEADERS)), *extra_names]
    order = draw(st.permutations(range(len(names))))
    width = len(names)
    blank: st.SearchStrategy[list[str]] = st.one_of(
        st.just([]),
        st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=width, max_size=width),
    )
    row = st.lists(text, min_size=width, max_size=width)
    rows = draw(st.lists(st.one_of(row, row, blank), max_size=12))
    return Table(
        encoding=encoding,
        delimiter=draw(st.sampled_from(DELIMITERS)),
        newline=draw(st.sampled_from(NEWLINES)),
        header=[names[index] for index in order],
        contact_column=order.index(0),
        role_column=order.index(1),
        rows=[[cells[index] for index in order] if cells else [] for cells in rows],
    )


def _unambiguous(table: Table, data: bytes) -> bool:
    """A Windows-1252 line whose bytes happen to be valid UTF-8 is read as UTF-8: no reader can tell them apart."""
    if table.encoding != "cp1252":
        return True
    for line in re.split(rb"\r\n|\r|\n", data):
        try:
            if line.decode("utf-8") != line.decode("cp1252"):
                return False
        except UnicodeDecodeError:
            continue
    return True


@ROUND_TRIP
@given(table=tables(), cuts=cuts)
@example(
    table=Table("cp1252", ";", "\r", ["ContactId", "Role"], 0, 1, [["003a", "Privilégié"], ["003b", "Ã©»"]]),
    cuts=[],
)
@example(
    table=Table("utf-8", ",", "\n", ["ContactId", "Role", "Notes; a; b; c"], 0, 1, [["003a", "C", "x"]]),
    cuts=[],
)
def test_a_table_written_as_csv_reads_back_exactly(table: Table, cuts: list[int]) -> None:
    # Given a table written with some delimiter, line end, encoding, header spelling and column order
    data = table.encoded()
    assume(_unambiguous(table, data))

    # When it is read in arbitrary chunks
    result = read(cut(data, cuts), Limits())

    # Then every record that is not blank comes back as written (untrimmed), numbered as in the file
    assert result == Read(None, table.expected())


# --- (c) unbalanced quotes: no line of the file goes unaccounted for -----------------------------------------

QUOTE_ROLES = {"Customer": True, "Partner User": True}


@st.composite
def quoted_files(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A file of distinct Contact IDs (and maybe notes), with stray quotes dropped in anywhere; and those IDs."""
    count = draw(st.integers(min_value=1, max_value=8))
    ids = [f"003{number:016d}" for number in range(count)]
    newline = draw(st.sampled_from(NEWLINES))
    notes = draw(st.booleans())  # a third column, which no rule reads
    lines = [
        f"{contact},{draw(st.sampled_from(sorted(QUOTE_ROLES)))}" + (f",note {number}" if notes else "")
        for number, contact in enumerate(ids)
    ]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        line = draw(st.integers(min_value=0, max_value=count - 1))
        # A quote opens a quoted value only at the start of a field: there, more often than anywhere else.
        starts = [0, *(index + 1 for index, char in enumerate(lines[line]) if char == ",")]
        position = draw(st.one_of(st.sampled_from(starts), st.integers(min_value=0, max_value=len(lines[line]))))
        lines[line] = lines[line][:position] + '"' + lines[line][position:]
    ending = draw(st.sampled_from([newline, ""]))
    header = "ContactId,Role,Notes" if notes else "ContactId,Role"
    return (header + newline + newline.join(lines) + ending).encode(), ids


@FUZZ
@given(file=quoted_files())
@example(
    file=(
        b'ContactId,Role\n0030000000000000000,"Customer\n0030000000000000001,Customer\n',
        ["0030000000000000000", "0030000000000000001"],
    )
)
@example(
    file=(
        b'ContactId,Role\n0030000000000000000,"Customer\n0030000000000000001,Customer"\n',
        ["0030000000000000000", "0030000000000000001"],
    )
)
def test_a_stray_quote_never_swallows_a_line_silently(file: tuple[bytes, list[str]]) -> None:
    # Given a file whose quotes may open and close anywhere, or never close
    data, ids = file

    # When it is read and its rows checked
    result = read([data], Limits())

    # Then it is refused naming the row the quote opened on, or every line's Contact is in some row; a row that holds
    # a later line's Contact after a line break fails, and its error says a quote may be missing
    if result.rejection is not None:
        assert re.match(r"Row \d+ (opens a quote|is not valid CSV|holds, in column)", result.rejection), (
            result.rejection
        )
        return
    checks = FileChecks(QUOTE_ROLES)
    for contact in ids:
        holding = [record for record in result.records if contact in (record[1] + record[2]).replace('"', "")]
        assert holding, f"{contact} is in no row"
        _, contact_cell, role_cell = holding[0]
        cells = (contact_cell + "," + role_cell).replace('"', "")
        if not re.search(r"[\r\n][^\r\n]*" + contact, cells):
            continue  # on the first line of its row: the row is its own, and fails or passes by its rules
        error = checks.check(Record(*holding[0])).error or contact_not_found(
            normalize_contact_id(contact_cell.strip()), contact_cell, role_cell
        )
        assert error.endswith("a quote may be missing"), (contact, holding[0], error)
