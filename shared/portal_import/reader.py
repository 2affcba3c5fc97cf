"""Streaming reader of an import file: detects encoding and delimiter, maps the header, yields one Record per row.

Never holds the whole file: the input arrives as byte chunks (e.g. an S3 body) and is decoded as it is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CONTACT_ID = "ContactId"
ROLE = "Role"

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

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CP1252_FALLBACK = "portal_import.cp1252_fallback"


def _decode_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 are read as Windows-1252, which is what Excel writes."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    raw = error.object[error.start : error.end]
    # cp1252 leaves five bytes undefined; reading those as Latin-1 keeps every byte visible instead of failing.
    text = "".join(bytes([byte]).decode("cp1252", errors="ignore") or chr(byte) for byte in raw)
    return text, error.end


codecs.register_error(_CP1252_FALLBACK, _decode_as_cp1252)

# U+FFFE and U+FFFF are not characters, and SQS refuses a message holding them: a value carries U+FFFD instead.
_NONCHARACTERS = str.maketrans({"\ufffe": "\ufffd", "\uffff": "\ufffd"})


class FileRejected(Exception):
    """The whole file cannot be imported; str(exc) is one sentence a person can act on."""


@dataclass(frozen=True)
class Limits:
    max_rows: int = 1_000_000
    max_field_chars: int = 32_000


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
        rows: Iterator[list[str]],
        columns: dict[str, int],
        encoding: str,
        delimiter: str,
        limits: Limits,
    ) -> None:
        self.encoding = encoding
        self.delimiter = delimiter
        self._rows = rows
        self._columns = columns
        self._limits = limits

    def records(self) -> Iterator[Record]:
        """The data records in file order, skipping blank ones; the file can be read through once."""
        contact_index = self._columns[CONTACT_ID]
        role_index = self._columns[ROLE]
        row_number = 1
        data_rows = 0
        while True:
            cells = _next_row(self._rows, row_number + 1, self._limits)
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
            yield Record(
                row_number=row_number,
                contact_id=_cell(cells, contact_index),
                role=_cell(cells, role_index),
            )


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _next_row(rows: Iterator[list[str]], row_number: int, limits: Limits) -> list[str] | None:
    """The next CSV record, with parse failures turned into a rejection that names the row."""
    # The csv module's limit is process-wide: set it only while this file's reader runs, then put it back.
    previous_limit = csv.field_size_limit(limits.max_field_chars)
    try:
        return next(rows, None)
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


def _bounded_lines(text: TextIO) -> Iterator[str]:
    """The physical lines of the text, refusing any that is too long to be a real row."""
    while True:
        # Room for the longest line allowed and its line end, so that a '\r\n' is never cut in two.
        line = text.readline(_MAX_LINE_CHARS + 2)
        if not line:
            return
        if len(line.rstrip("\r\n")) > _MAX_LINE_CHARS:
            raise _LineTooLong()
        if "\ufffe" in line or "\uffff" in line:
            line = line.translate(_NONCHARACTERS)
        yield line


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


def _detect_encoding(prefix: bytes, complete: bool) -> tuple[str, str, str]:
    """(label to report, codec to decode with, error handler) for a file that begins with prefix."""
    if prefix.startswith(_UTF16_BOMS):
        # A truncated last character should not stop an import; it becomes U+FFFD in that one cell.
        return "utf-16", "utf-16", "replace"
    _refuse_binary(prefix[:_BINARY_CHECK_BYTES])
    if prefix.startswith(_UTF8_BOM):
        return "utf-8-sig", "utf-8-sig", _CP1252_FALLBACK
    try:
        codecs.getincrementaldecoder("utf-8")().decode(prefix, final=complete)
    except UnicodeDecodeError:
        # Not UTF-8 from the start: the whole file is Windows-1252, even where a few bytes would pass as UTF-8.
        return "cp1252", "cp1252", _CP1252_FALLBACK
    # UTF-8 as far as we can see; a Windows-1252 byte further on is read as such (a file pasted together).
    return "utf-8", "utf-8", _CP1252_FALLBACK


def _refuse_binary(sample: bytes) -> None:
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls <= len(sample) * _MAX_CONTROL_SHARE:
        return
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


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a file whose header record is header_line: of comma, semicolon, tab and pipe (outside
    quotes), the most frequent that splits it into a ContactId and a Role column, else the most frequent; comma
    when none appears."""
    counts = _delimiter_counts(header_line)
    ranked = sorted((delimiter for delimiter in DELIMITERS if counts[delimiter]), key=lambda d: -counts[d])
    for delimiter in ranked:
        # 'Notes; comments, more' as a column name must not outvote the comma between ContactId and Role.
        if _maps_header(header_line, delimiter):
            return delimiter
    return ranked[0] if ranked else ","


def _maps_header(header_line: str, delimiter: str) -> bool:
    try:
        names = next(csv.reader([header_line], delimiter=delimiter), [])
        map_header(names)
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


def _normalize_name(name: str) -> str:
    return "".join(char for char in name if not char.isspace() and char not in "_-\ufeff").casefold()


_FIELDS_BY_NAME = {_normalize_name(field): field for field in (CONTACT_ID, ROLE)}


def _shown_name(name: str) -> str:
    """A column name as an error sentence quotes it: on one line, without invisible characters, not too long."""
    clean = "".join(" " if char.isspace() else char if char.isprintable() else "?" for char in name)
    clean = " ".join(clean.split())
    if len(clean) > _SHOWN_NAME_CHARS:
        clean = clean[:_SHOWN_NAME_CHARS] + "..."
    return clean


def _shown_columns(names: Sequence[str]) -> str:
    shown = [_shown_name(name.replace("\ufeff", "")) or "(blank)" for name in names[:_SHOWN_COLUMNS]]
    text = ", ".join(shown)
    if len(names) > _SHOWN_COLUMNS:
        text += f" and {len(names) - _SHOWN_COLUMNS} more"
    return text


def map_header(names: Sequence[str]) -> dict[str, int]:
    """Find the ContactId and Role columns in a header row, ignoring case, spaces, '_', '-' and a BOM."""
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        field = _FIELDS_BY_NAME.get(_normalize_name(name))
        if field is None:
            continue
        if field in columns:
            first = columns[field]
            raise FileRejected(
                f"The file has two {field} columns (column {first + 1} '{_shown_name(names[first])}' "
                f"and column {index + 1} '{_shown_name(name)}'); keep one of them and upload the file again."
            )
        columns[field] = index
    found = _shown_columns(names)
    if not columns:
        raise FileRejected(
            "The first row of the file must be a header naming the ContactId and Role columns; "
            f"add a header row such as ContactId,Role (found columns: {found})."
        )
    if CONTACT_ID not in columns:
        raise FileRejected(
            f"The file has no ContactId column; add a column named ContactId next to Role (found columns: {found})."
        )
    if ROLE not in columns:
        raise FileRejected(
            f"The file has no Role column; add a column named Role next to ContactId (found columns: {found})."
        )
    return columns


_EMPTY = "The file is empty; add a header row ContactId,Role and one row per Contact, then upload it again."


def open_import(chunks: Iterable[bytes], limits: Limits = Limits()) -> ImportFile:
    """Open an import file from its byte chunks: check encoding and header now, read the rows later."""
    chunk_iterator = iter(chunks)
    prefix = _read_prefix(chunk_iterator)
    complete = len(prefix) < _PREFIX_BYTES
    if not prefix.strip():
        raise FileRejected(_EMPTY)
    label, codec, errors = _detect_encoding(prefix, complete)
    beginning = codecs.getincrementaldecoder(codec)(errors=errors).decode(prefix, final=complete)
    if complete and not beginning.replace("\ufeff", "").strip():
        raise FileRejected(_EMPTY)
    delimiter = sniff_delimiter(_header_record(beginning))

    raw = _ChunkStream(itertools.chain([prefix], chunk_iterator))
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding=codec, errors=errors, newline="")
    rows = csv.reader(_bounded_lines(text), delimiter=delimiter)

    header = _next_row(rows, 1, limits)
    if header is None:
        raise FileRejected(_EMPTY)
    if all(not name.strip(" \t\r\n\ufeff") for name in header):
        raise FileRejected(
            "The first row of the file is empty; put the header row ContactId,Role on the first line "
            "and upload the file again."
        )
    return ImportFile(rows, map_header(header), label, delimiter, limits)
