"""Writing the result files of a job (docs/contracts.md §3): success.csv and failure.csv, safe to open in a
spreadsheet."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

SUCCESS_HEADER = ("RowNumber", "ContactId", "Role", "UserId", "ActivationEmail")
FAILURE_HEADER = ("RowNumber", "ContactId", "Role", "Error")

NOT_REQUESTED = "Not requested"
QUEUED = "Queued"
NO_VALID_EMAIL = "No valid email"
WOULD_QUEUE = "Would queue"

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def results_prefix(job_id: str) -> str:
    """Where a job's result files are, in the results bucket."""
    return f"results/{job_id}/"


class BinarySink(Protocol):
    """Anything bytes can be written to: an open binary file, BytesIO, a result upload to S3."""

    def write(self, data: bytes, /) -> object: ...


def escape_cell(value: str) -> str:
    """The cell as written: prefixed with ' when a spreadsheet would otherwise read it as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


class CsvResultWriter:
    """Writes one result CSV (UTF-8 with BOM, header first, CRLF line ends) to a binary file, row by row."""

    def __init__(self, fileobj: BinarySink, header: Sequence[str]) -> None:
        self._fileobj = fileobj
        # Rows are formatted in a small text buffer and written as bytes, so the caller's file object is
        # never wrapped (a TextIOWrapper would close it when collected).
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        self.rows_written = 0
        self._fileobj.write(codecs.BOM_UTF8)
        self._write_line(header)

    def write(self, cells: Sequence[object]) -> None:
        """Write one data row; every cell is converted with str() and escaped."""
        self._write_line(cells)
        self.rows_written += 1

    def _write_line(self, cells: Sequence[object]) -> None:
        self._csv.writerow([escape_cell(str(cell)) for cell in cells])
        # "replace" because one unencodable character must not cost the whole result file.
        self._fileobj.write(self._buffer.getvalue().encode("utf-8", errors="replace"))
        self._buffer.seek(0)
        self._buffer.truncate()


def activation_email_status(*, requested: bool, valid_email: bool, validate_mode: bool) -> str:
    """The ActivationEmail value of a created (or, in validate mode, creatable) user."""
    if not requested:
        return NOT_REQUESTED
    if not valid_email:
        return NO_VALID_EMAIL
    return WOULD_QUEUE if validate_mode else QUEUED


@dataclass(frozen=True)
class SuccessRow:
    row: int
    contact_id: str
    role: str
    user_id: str
    activation_email: str


def read_success_rows(data: bytes) -> list[SuccessRow]:
    """The rows of a success.csv as the aggregator wrote it (its cells are IDs, Role names and fixed words)."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return [
        SuccessRow(
            row=int(cells["RowNumber"]),
            contact_id=cells["ContactId"],
            role=_unescaped(cells["Role"]),
            user_id=cells["UserId"],
            activation_email=cells["ActivationEmail"],
        )
        for cells in reader
    ]


def _unescaped(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS) else value
