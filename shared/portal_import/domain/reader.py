"""Streaming reader of an import file: detects encoding and delimiter, maps the header, yields one Record per row.

Never holds the whole file: the input arrives as byte chunks (e.g. an S3 body) and is decoded as it is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from portal_import.domain.ids import looks_like_contact_id
from portal_import.domain.shown import visible

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CONTACT_ID = "ContactId"
ROLE = "Role"
# Map Fields: how an administrator names the file's column for a field, as object metadata and as the option of
# `portal-import submit` and `local run` that sets it.
MAPPING_METADATA = {CONTACT_ID: "contactid-column", ROLE: "role-column"}
MAPPING_OPTIONS = {CONTACT_ID: "--contact-id-column", ROLE: "--role-column"}
FIELD_CONTENTS = {CONTACT_ID: "the Contact IDs", ROLE: "the Role names"}

DELIMITERS = (",", ";", "\t", "|")

# Enough of the beginning to judge the encoding and find the header line, small enough to hold.
_PREFIX_BYTES = 64 * 1024
_BINARY_CHECK_BYTES = 8 * 1024
# C0 control bytes but tab, line feed, vertical tab, form feed and carriage return, and DEL: text holds almost none.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
# Above this share of control bytes the beginning is a workbook, an archive or an image, not CSV. Below it a stray
# control character (a NUL pasted into one cell) stays in its row, which then fails by its rule like any typo.
_MAX_CONTROL_SHARE = 0.05
# A physical line longer than this is not a row of Contact IDs; refusing it keeps one line from filling memory.
_MAX_LINE_CHARS = 1_000_000
_SHOWN_COLUMNS = 10
_SHOWN_NAME_CHARS = 40
_KEPT_NAME_CHARS = 1000

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)  # the LE one begins with UTF-16 LE's: test it first
_LATIN1_FOR_UNDEFINED = "portal_import.latin1_for_undefined"
# DOS and some old exporters end a text file with Ctrl-Z (SUB); it is not a row.
_DOS_EOF = "\x1a"


def _latin1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the five bytes Windows-1252 leaves undefined are read as Latin-1, so that every byte
    stays visible instead of failing the file."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error(_LATIN1_FOR_UNDEFINED, _latin1_for_undefined)


def _decoded_line(raw: str) -> str:
    """A physical line of a byte-oriented file, held as Latin-1 (one char per byte), decoded on its own: as UTF-8
    when it is valid UTF-8, otherwise as Windows-1252 (what Excel writes). A stray byte changes only its line."""
    if raw.isascii():
        return raw
    data = raw.encode("latin-1")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors=_LATIN1_FOR_UNDEFINED)


# U+FFFE and U+FFFF are not characters, and SQS refuses a message holding them: a value carries U+FFFD instead.
_NONCHARACTERS = str.maketrans({"\ufffe": "\ufffd", "\uffff": "\ufffd"})


class FileRejected(Exception):
    """The whole file cannot be imported; str(exc) is one sentence a person can act on.

    A sentence may quote the file (its column names, say) back to its uploader. Logs must hold no value of the
    file, so such a sentence is made with `quoting`, and `loggable` is the same sentence with those parts left out.
    """

    def __init__(self, sentence: str, loggable: str | None = None) -> None:
        super().__init__(sentence)
        self.loggable = sentence if loggable is None else loggable

    @classmethod
    def quoting(cls, template: str, **from_file: str) -> FileRejected:
        """The rejection whose sentence is `template` filled with parts of the file (str.format fields)."""
        left_out = {name: f"<{name} left out>" for name in from_file}
        return cls(template.format(**from_file), template.format(**left_out))


@dataclass(frozen=True)
class Limits:
    max_rows: int = 1_000_000
    max_field_chars: int = 32_000


@dataclass(frozen=True)
class ColumnMapping:
    """Map Fields: the header of the file's column to read a field from, for a file whose headers do not auto-map
    (None: the field is auto-mapped)."""

    contact_id: str | None = None
    role: str | None = None

    def named(self) -> dict[str, str]:
        """The header named for each field the mapping names one for."""
        pairs = ((CONTACT_ID, self.contact_id), (ROLE, self.role))
        return {field: name for field, name in pairs if name is not None}


NO_MAPPING = ColumnMapping()


@dataclass(frozen=True)
class Record:
    row_number: int
    contact_id: str
    role: str


class _LineTooLong(Exception):
    pass


class _ChunkStream(io.RawIOBase):
    """A read-only raw stream over an iterator of byte chunks, so the io stack can buffer and decode it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._current:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._current = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        size = min(len(target), len(self._current))
        target[:size] = self._current[:size]
        self._current = self._current[size:]
        return size


class ImportFile:
    """An opened import file whose header has been checked; its data rows are read lazily by records()."""

    def __init__(
        self,
        rows: _Rows,
        header: list[str],
        encoding: str,
        delimiter: str,
        limits: Limits,
        mapping: ColumnMapping = NO_MAPPING,
    ) -> None:
        self.encoding = encoding
        self.delimiter = delimiter
        self._rows = rows
        self._header = header
        self._columns = map_header(header, mapping)
        self._limits = limits

    @property
    def column_names(self) -> dict[str, str]:
        """The header of the column each field is read from, as the file has it (without a BOM): what the summary
        and the notification say was used."""
        return {field: _kept_name(self._header[index]) for field, index in self._columns.items()}

    def records(self) -> Iterator[Record]:
        """The data records in file order, skipping blank ones; the file can be read through once."""
        contact_index = self._columns[CONTACT_ID]
        role_index = self._columns[ROLE]
        row_number = 1
        data_rows = 0
        while True:
            cells = self._rows.next(row_number + 1)
            if cells is None:
                return
            row_number += 1
            if all(not cell.strip() for cell in cells):
                continue
            data_rows += 1
            if data_rows > self._limits.max_rows:
                raise FileRejected(
                    f"The file has more than {self._limits.max_rows:,} rows; "
                    f"split it into files of at most {self._limits.max_rows:,} rows and import each one."
                )
            if len(cells) > 2:
                self._refuse_swallowed_rows(cells, row_number)
            yield Record(
                row_number=row_number,
                contact_id=_cell(cells, contact_index),
                role=_cell(cells, role_index),
            )

    def _refuse_swallowed_rows(self, cells: list[str], row_number: int) -> None:
        """Refuses the file when a column the import ignores holds lines that look like rows of their own.

        A quote opened in such a cell and closed lines later makes those lines part of it. In the ContactId or
        Role column that row fails and its error says a quote may be missing; in a column no rule reads, the row
        would import and the Contacts of those lines would be neither created nor in the failure file.
        """
        contact_index, role_index = self._columns[CONTACT_ID], self._columns[ROLE]
        for index, cell in enumerate(cells):
            if index in (contact_index, role_index) or ("\n" not in cell and "\r" not in cell):
                continue
            later_lines = _LINE_BREAK.split(cell)[1:]
            swallowed = sum(_names_a_contact(line.split(self.delimiter), contact_index) for line in later_lines)
            if swallowed:
                name = _shown_name(self._header[index]) if index < len(self._header) else ""
                raise FileRejected.quoting(
                    f"Row {row_number} holds, in column {index + 1}{{name}}, {swallowed} line"
                    f"{'' if swallowed == 1 else 's'} with a Contact ID where the ContactId column is: a quote "
                    "opened on that row and closed lines later makes them part of that cell, and their Contacts "
                    "would be neither imported nor reported; fix the quotes on that row and upload the file again.",
                    name=f" ({name})" if name else "",
                )


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _names_a_contact(fields: list[str], contact_index: int) -> bool:
    """Whether a line split at the delimiter has a Contact ID (any of its forms) where the ContactId column is."""
    return contact_index < len(fields) and looks_like_contact_id(fields[contact_index].replace('"', "").strip())


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


class _Rows:
    """The CSV records of the file's lines, with parse failures and a quote that is never closed turned into
    rejections that name the row."""

    def __init__(self, lines: _Lines, delimiter: str, limits: Limits) -> None:
        self._lines = lines
        self._reader = csv.reader(lines, delimiter=delimiter)
        self._limits = limits

    def next(self, row_number: int) -> list[str] | None:
        """The next record (row `row_number`), or None at the end of the file."""
        limits = self._limits
        # The csv module's limit is process-wide: set it only while this file's reader runs, then put it back.
        previous_limit = csv.field_size_limit(limits.max_field_chars)
        try:
            cells = next(self._reader, None)
        except csv.Error as error:
            if "field larger than field limit" in str(error):
                raise FileRejected(
                    f"Row {row_number} has a value longer than {limits.max_field_chars:,} characters, "
                    "often because a quote is never closed; fix that row and upload the file again."
                ) from error
            raise FileRejected(
                f"Row {row_number} is not valid CSV ({error}); fix that row and upload the file again."
            ) from error
        except _LineTooLong as error:
            raise FileRejected(
                f"Row {row_number} has a line longer than {_MAX_LINE_CHARS:,} characters; "
                "check that the file is a CSV file with one Contact per line and upload it again."
            ) from error
        finally:
            csv.field_size_limit(previous_limit)
        if cells is not None and self._lines.ended:
            # Read leniently, the rest of the file would be one cell of this row and its Contacts never imported.
            raise FileRejected(
                f'Row {row_number} opens a quote (") that is never closed, so every line after it would be read '
                "as part of that row; close the quote or remove it and upload the file again."
            )
        return cells


class _Lines:
    """The physical lines of the text as the csv reader takes them: each decoded on its own (for files that are not
    UTF-16), none too long to be a real row, a DOS end-of-file byte after the last one dropped.

    `ended` turns true once the reader asks for a line after the last one. A record the reader returns after that
    was ended by the end of the file, not by a line end: its quote was never closed.
    """

    def __init__(self, text: TextIO, decode: Callable[[str], str] | None) -> None:
        self.ended = False
        self._lines = self._read(text, decode)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines, None)
        if line is None:
            self.ended = True
            raise StopIteration
        return line

    @staticmethod
    def _read(text: TextIO, decode: Callable[[str], str] | None) -> Iterator[str]:
        # Lines held as Latin-1 are bytes: room for the longest line allowed in 4-byte characters and its line end,
        # so that a '\r\n' is never cut in two.
        limit = _MAX_LINE_CHARS + 2 if decode is None else 4 * _MAX_LINE_CHARS + 2
        line = text.readline(limit)
        while line:
            following = text.readline(limit)
            if decode is not None:
                line = decode(line)
            if len(line.rstrip("\r\n")) > _MAX_LINE_CHARS:
                raise _LineTooLong()
            if "\ufffe" in line or "\uffff" in line:
                line = line.translate(_NONCHARACTERS)
            if not following and line.endswith(_DOS_EOF):
                line = line[: -len(_DOS_EOF)]
            elif not following and line.rstrip("\r\n") == _DOS_EOF:
                line = ""
            if line:
                yield line
            line = following


def _read_prefix(chunks: Iterator[bytes]) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < _PREFIX_BYTES:
        chunk = next(chunks, None)
        if chunk is None:
            break
        parts.append(bytes(chunk))
        size += len(chunk)
    return b"".join(parts)


def _encoding_of(prefix: bytes, complete: bool) -> str:
    """The encoding of a file that begins with prefix, as reported: how its beginning reads."""
    if prefix.startswith(_UTF32_BOMS):
        raise FileRejected(_UTF32)
    if prefix.startswith(_UTF16_BOMS):
        return "utf-16"
    _refuse_binary(prefix[:_BINARY_CHECK_BYTES])
    if prefix.startswith(_UTF8_BOM):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(prefix[:_PREFIX_BYTES], final=complete)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _refuse_binary(sample: bytes) -> None:
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls <= len(sample) * _MAX_CONTROL_SHARE:
        return
    if len(sample) >= 8 and sum(sample[lane::4].count(0) * 4 >= len(sample) * 0.9 for lane in range(4)) >= 3:
        # Three bytes of every four zero: ASCII text as UTF-32 whose byte order mark is missing.
        raise FileRejected(_UTF32)
    if len(sample) >= 4 and max(sample[0::2].count(0), sample[1::2].count(0)) * 2 >= len(sample) * 0.9:
        # Every other byte zero: ASCII text as UTF-16 whose byte order mark is missing.
        raise FileRejected(
            "The file looks like UTF-16 text without a byte order mark, which cannot be read reliably; "
            "save it from your spreadsheet as CSV UTF-8 (or as Unicode text) and upload it again."
        )
    raise FileRejected(
        "The file is not a CSV text file (it holds binary data, as a workbook, an archive or an image does); "
        "save it from your spreadsheet as CSV UTF-8 and upload it again."
    )


def _delimiter_counts(header_line: str) -> dict[str, int]:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts


def sniff_delimiter(header_line: str, mapping: ColumnMapping = NO_MAPPING) -> str:
    """The delimiter of a file whose header record is header_line: of comma, semicolon, tab and pipe (outside
    quotes), the most frequent that splits it into a ContactId and a Role column (as the mapping names them, if
    any), else the most frequent; comma when none appears."""
    counts = _delimiter_counts(header_line)
    ranked = sorted((delimiter for delimiter in DELIMITERS if counts[delimiter]), key=lambda d: -counts[d])
    for delimiter in ranked:
        # 'Notes; comments, more' as a column name must not outvote the comma between ContactId and Role.
        if _maps_header(header_line, delimiter, mapping):
            return delimiter
    return ranked[0] if ranked else ","


def _maps_header(header_line: str, delimiter: str, mapping: ColumnMapping) -> bool:
    try:
        names = next(csv.reader([header_line], delimiter=delimiter), [])
        map_header(names, mapping)
    except (csv.Error, FileRejected):
        return False
    return True


def _header_record(text: str) -> str:
    """The beginning of the text up to its first line end outside quotes: the header record."""
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            return text[:index]
    return text


def normalize_name(name: str) -> str:
    """A column name as header names are compared: without case, white space, '_', '-' or a BOM."""
    return "".join(char for char in name if not char.isspace() and char not in "_-\ufeff").casefold()


_FIELDS_BY_NAME = {normalize_name(field): field for field in (CONTACT_ID, ROLE)}


def _shown_name(name: str) -> str:
    """A column name as an error sentence quotes it: on one line, invisible characters shown as escapes (shown.py),
    not too long."""
    clean = " ".join(name.split())
    if len(clean) > _SHOWN_NAME_CHARS:
        return visible(clean[:_SHOWN_NAME_CHARS]) + "..."
    return visible(clean)


def _shown_columns(names: Sequence[str]) -> str:
    shown = [_shown_name(name.replace("\ufeff", "")) or "(blank)" for name in names[:_SHOWN_COLUMNS]]
    text = ", ".join(shown)
    if len(names) > _SHOWN_COLUMNS:
        text += f" and {len(names) - _SHOWN_COLUMNS} more"
    return text


def _kept_name(name: str) -> str:
    # A header name is kept with the job and repeated in the summary and the events: one cut at a length no real
    # header has cannot make them too large to store or send.
    return name.replace("\ufeff", "")[:_KEPT_NAME_CHARS]


def map_header(names: Sequence[str], mapping: ColumnMapping = NO_MAPPING) -> dict[str, int]:
    """Find the ContactId and Role columns in a header row: the column the mapping names for a field (Map Fields),
    else the one named after the field; names are compared as normalize_name has them."""
    named = mapping.named()
    columns = {field: _named_column(names, field, name) for field, name in named.items()}
    columns |= _auto_mapped(names, [field for field in (CONTACT_ID, ROLE) if field not in named])
    _refuse_missing_fields(names, columns)
    if columns[CONTACT_ID] == columns[ROLE]:
        raise _one_column(names, columns[CONTACT_ID], named)
    return columns


def _auto_mapped(names: Sequence[str], fields: Sequence[str]) -> dict[str, int]:
    """The column named after each of `fields`, for those the header has one for."""
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        field = _FIELDS_BY_NAME.get(normalize_name(name))
        if field is None or field not in fields:
            continue
        if field in columns:
            raise _two_columns(names, field, columns[field], index)
        columns[field] = index
    return columns


def _named_column(names: Sequence[str], field: str, name: str) -> int:
    """The one column whose header is `name`, which the mapping names for `field`."""
    key = normalize_name(name)
    matches = [index for index, header in enumerate(names) if normalize_name(header) == key]
    if not matches:
        raise FileRejected.quoting(
            f"The {MAPPING_METADATA[field]} metadata ({MAPPING_OPTIONS[field]}) names the column '{{name}}', which "
            f"the file does not have (found columns: {{columns}}); name the column that holds "
            f"{FIELD_CONTENTS[field]} as its header reads and upload the file again.",
            name=_shown_name(name),
            columns=_shown_columns(names),
        )
    if len(matches) > 1:
        raise _two_columns(names, field, matches[0], matches[1])
    return matches[0]


def _two_columns(names: Sequence[str], field: str, first: int, second: int) -> FileRejected:
    return FileRejected.quoting(
        f"The file has two {field} columns (column {first + 1} '{{first}}' "
        f"and column {second + 1} '{{second}}'); keep one of them and upload the file again.",
        first=_shown_name(names[first]),
        second=_shown_name(names[second]),
    )


def _refuse_missing_fields(names: Sequence[str], columns: Mapping[str, int]) -> None:
    """Refuses a header that gives a field no column, saying how to name the column for it when its header has a
    name of its own (a Salesforce report's `Contact: Contact ID`, say)."""
    found = _shown_columns(names)
    if not columns:
        raise FileRejected.quoting(
            "The first row of the file must be a header naming the ContactId and Role columns (found columns: "
            "{columns}); add a header row such as ContactId,Role and upload the file again, or, if the file's columns "
            "have names of their own, upload it as it is with them named: "
            f"`--metadata {MAPPING_METADATA[CONTACT_ID]}=NAME,{MAPPING_METADATA[ROLE]}=NAME` (aws s3 cp) or "
            f"`portal-import submit FILE {MAPPING_OPTIONS[CONTACT_ID]} NAME {MAPPING_OPTIONS[ROLE]} NAME`.",
            columns=found,
        )
    for field in (CONTACT_ID, ROLE):
        if field not in columns:
            raise FileRejected.quoting(
                f"The file has no {field} column (found columns: {{columns}}); rename the column that holds "
                f"{FIELD_CONTENTS[field]} to {field} and upload the file again, or upload it as it is with that column "
                f"named: `--metadata {MAPPING_METADATA[field]}=NAME` (aws s3 cp) or "
                f"`portal-import submit FILE {MAPPING_OPTIONS[field]} NAME`.",
                columns=found,
            )


def _one_column(names: Sequence[str], index: int, named: Mapping[str, str]) -> FileRejected:
    """The refusal of a mapping that reads ContactId and Role from one column."""
    column = f"column {index + 1} ('{{name}}')"
    if len(named) == 2:
        problem = (
            f"The {MAPPING_METADATA[CONTACT_ID]} and {MAPPING_METADATA[ROLE]} metadata "
            f"({MAPPING_OPTIONS[CONTACT_ID]}, {MAPPING_OPTIONS[ROLE]}) both name {column}"
        )
        fix = "name the column of each"
    else:
        (field,) = named
        other = ROLE if field == CONTACT_ID else CONTACT_ID
        problem = (
            f"The {MAPPING_METADATA[field]} metadata ({MAPPING_OPTIONS[field]}) names {column}, which is the file's "
            f"{other} column"
        )
        fix = f"name the column that holds {FIELD_CONTENTS[field]}"
    return FileRejected.quoting(
        f"{problem}, but ContactId and Role must be two columns (found columns: {{columns}}); {fix} and upload the "
        "file again.",
        name=_shown_name(names[index]),
        columns=_shown_columns(names),
    )


_UTF32 = (
    "The file is UTF-32 text, which cannot be imported; save it from your spreadsheet as CSV UTF-8 "
    '(or as "Unicode text", which is UTF-16) and upload it again.'
)
_EMPTY = "The file is empty; add a header row ContactId,Role and one row per Contact, then upload it again."


def open_import(chunks: Iterable[bytes], limits: Limits = Limits(), mapping: ColumnMapping = NO_MAPPING) -> ImportFile:
    """Open an import file from its byte chunks: check encoding and header now (its columns found as the mapping
    names them, or auto-mapped), read the rows later."""
    chunk_iterator = iter(chunks)
    prefix = _read_prefix(chunk_iterator)
    complete = len(prefix) < _PREFIX_BYTES
    if not prefix.strip():
        raise FileRejected(_EMPTY)
    encoding = _encoding_of(prefix, complete)
    raw = _ChunkStream(itertools.chain([prefix], chunk_iterator))
    if encoding == "utf-16":
        # A truncated last character should not stop an import; it becomes U+FFFD in that one cell.
        beginning = codecs.getincrementaldecoder("utf-16")(errors="replace").decode(prefix, final=complete)
        header_record = _header_record(beginning)
        text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-16", errors="replace", newline="")
        lines = _Lines(text, decode=None)
    else:
        # Read as Latin-1, one char per byte, the lines split where the bytes do; each is then decoded on its own.
        start = len(_UTF8_BOM) if encoding == "utf-8-sig" else 0
        beginning = prefix[start:].decode("latin-1")
        header_record = _decoded_line(_header_record(beginning))
        buffered = io.BufferedReader(raw)
        buffered.read(start)
        text = io.TextIOWrapper(buffered, encoding="latin-1", newline="")
        lines = _Lines(text, decode=_decoded_line)
    if complete and not beginning.replace("\ufeff", "").strip():
        raise FileRejected(_EMPTY)
    delimiter = sniff_delimiter(header_record, mapping)
    rows = _Rows(lines, delimiter, limits)

    header = rows.next(1)
    if header is None:
        raise FileRejected(_EMPTY)
    if all(not name.strip(" \t\r\n\ufeff") for name in header):
        raise FileRejected(
            "The first row of the file is empty; put the header row ContactId,Role on the first line "
            "and upload the file again."
        )
    return ImportFile(rows, header, encoding, delimiter, limits, mapping)
