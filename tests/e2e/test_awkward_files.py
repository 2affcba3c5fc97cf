"""Awkward files through `portal-import local run`, as administrators produce them: Excel's "Unicode text",
Windows-1252 with CR line ends, pipes with multi-line quoted values, ragged rows; and the files that must be
refused as a whole, each with one sentence, a FAILED summary, a notification and exit status 1.

All runs share one Python process (tests/fixtures/local_runs.py), each on its own freshly provisioned stack.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from local_runs import run_in_one_process  # noqa: E402

EMPTY = "The file is empty; add a header row ContactId,Role and one row per Contact, then upload it again."
BINARY = (
    "The file is not a CSV text file (it holds binary data, as a workbook, an archive or an image does); "
    "save it from your spreadsheet as CSV UTF-8 and upload it again."
)
UTF32 = (
    "The file is UTF-32 text, which cannot be imported; save it from your spreadsheet as CSV UTF-8 "
    '(or as "Unicode text", which is UTF-16) and upload it again.'
)
# Rows before the row too large for a message: more than one batch of chunks, which would have gone out to the
# workers before the refusal if the splitter did not read the file through first.
ROWS_BEFORE_HUGE_ROW = 12_000


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    parameters: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()


def excel_unicode_text() -> bytes:
    # Excel's "Unicode text": UTF-16 LE with its byte order mark, tab-delimited, CRLF, quotes around line breaks.
    text = (
        "ContactId\tRole\tNotes\r\n"
        "0037KWyWfty6uEv0001\tPartenaire Privilégié\tnon-ASCII role\r\n"
        "0039ufjjaJ1sjNN\tCustomer\t15-character Salesforce ID\r\n"
        "\t\t\r\n"
        "003zHgmeM90Kgba0001\tCustomer\thas a user\r\n"
        "003t7RWpmtcuVPw0001\tpartenaire privilégié\twrong case\r\n"
        '003YGZPgJZpfWiU0001\tDistributor Admin\t"two\r\nlines"\r\n'
    )
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def windows_1252_semicolons_cr() -> bytes:
    # Excel's "CSV" on a French Windows, as an old Mac tool ends its lines.
    lines = [
        "Contact ID;Role;Commentaire",
        "003t7RWpmtcuVPw0001;Partenaire Privilégié;déjà vu",
        "0036jdRU9UuEsu70001;Reseller;inactif",
        '003YGZPgJZpfWiU0001;Customer;"a;b;c"',
        ";Customer;sans identifiant",
        "0038oowbJWQOp9X0001;;sans rôle",
        "003t7RWpmtcuVPw0001;Customer;doublon",
    ]
    return "".join(line + "\r" for line in lines).encode("cp1252")


def pipes_multi_line_ragged() -> bytes:
    # Extra columns first, names padded and spelled differently, values padded, rows short and long, one NUL.
    return (
        b"Notes|Email| role |Contact_Id\n"
        b'"first line\nsecond | line"|a@b.c|  Customer  |  003Sw050SbYxr5d0001  \n'
        b"short|  |Partner User\n"
        b'"x\r\ny"|e| Distributor Admin |0037KWyWfty6uEv0001|extra|cells\n'
        b"|||\n"
        b"nul|e|Customer|0036jdRU9UuEsu7000\x00\n"
        b'"quoted | ""pipe"""|e|"Partner User"|"003CvyzR1Z9fvwe0001"\n'
    )


def workbook() -> bytes:
    # What an .xlsx renamed to .csv starts with: a zip header, then compressed bytes.
    body = b"".join(hashlib.sha256(bytes([n])).digest() for n in range(200))
    return b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + body


def huge_row() -> bytes:
    # A valid first row, thousands of others, then one whose two values (at the field limit) are control
    # characters: 6 bytes each once escaped in JSON, ~384 KB for the row, more than an SQS message holds.
    rows = ["0037KWyWfty6uEv0001,Customer"]
    rows += [f"{number:019d},Customer" for number in range(1, ROWS_BEFORE_HUGE_ROW)]
    rows.append("\x01" * 32_000 + "," + "\x01" * 32_000)
    rows.append("003t7RWpmtcuVPw0001,Customer")
    return ("ContactId,Role\n" + "\n".join(rows) + "\n").encode()


def stray_quote_closed_lines_later() -> bytes:
    # Valid CSV: a quote opened in row 3's Role and closed two lines later makes those lines part of that Role.
    return (
        b"ContactId,Role\n"
        b"0037KWyWfty6uEv0001,Customer\n"
        b'003t7RWpmtcuVPw0001,"Customer\n'
        b"003YGZPgJZpfWiU0001,Customer\n"
        b'003CvyzR1Z9fvwe0001,Customer"\n'
        b"003Sw050SbYxr5d0001,Customer\n"
    )


def utf8_with_stray_bytes_far_in() -> bytes:
    # A UTF-8 file with a UTF-8 Role on row 2, ~100 KB of notes, bytes that are UTF-8 nowhere, ~100 KB more, then a
    # row pasted from a Windows-1252 file: more than one read of the file's body, as S3 hands it over.
    notes = "x" * 30_000
    lines = ["ContactId,Role,Notes", f"0037KWyWfty6uEv0001,Partenaire Privilégié,{notes}"]
    lines += [f",,{notes}"] * 3
    head = "\n".join(lines).encode() + b"\n"
    garbage = b"003YGZPgJZpfWiU0001,Customer,\xff\xfe\xc3 broken\n"
    middle = "\n".join([f",,{notes}"] * 3).encode() + b"\n"
    pasted = "003t7RWpmtcuVPw0001,Partenaire Privilégié,collé\n".encode("cp1252")
    return head + garbage + middle + pasted + "003CvyzR1Z9fvwe0001,Partenaire Privilégié,fin\n".encode()


def invisible_characters() -> bytes:
    # Cells that look right and are not: a right-to-left override, a zero-width space, an escape, a NUL.
    return (
        "ContactId,Role\r\n"
        "0037KWyWfty6uEv0001,Customer\u202e\r\n"
        "003t7RWpmtcuVPw0001,Cust\u200bomer\r\n"
        "003YGZPgJZpfWiU0001,\x1b[31mCustomer\r\n"
        "003CvyzR1Z9fvwe00\x001,Customer\r\n"
    ).encode()


ACCEPTED = [
    Case("excel-unicode-text", excel_unicode_text()),
    Case("windows-1252-semicolons-cr", windows_1252_semicolons_cr()),
    Case("pipes-multi-line-ragged", pipes_multi_line_ragged()),
    Case("stray-quote-closed-lines-later", stray_quote_closed_lines_later()),
    Case("utf-8-with-stray-bytes-far-in", utf8_with_stray_bytes_far_in()),
    Case("invisible-characters", invisible_characters()),
    Case("dos-end-of-file-byte", b"ContactId,Role\r\n0037KWyWfty6uEv0001,Customer\r\n\x1a"),
]

REFUSED = [
    (Case("empty", b""), EMPTY),
    (Case("blank-lines", codecs.BOM_UTF8 + b"\r\n \r\n"), EMPTY),
    (
        Case("no-header", b"0037KWyWfty6uEv0001,Customer\r\n003t7RWpmtcuVPw0001,Customer\r\n"),
        "The first row of the file must be a header naming the ContactId and Role columns (found columns: "
        "0037KWyWfty6uEv0001, Customer); add a header row such as ContactId,Role and upload the file again, or, if "
        "the file's columns have names of their own, upload it as it is with them named: "
        "`--metadata contactid-column=NAME,role-column=NAME` (aws s3 cp) or "
        "`portal-import submit FILE --contact-id-column NAME --role-column NAME`.",
    ),
    (
        Case("no-role-column", b"ContactId,Notes\n0037KWyWfty6uEv0001,x\n"),
        "The file has no Role column (found columns: ContactId, Notes); rename the column that holds the Role names "
        "to Role and upload the file again, or upload it as it is with that column named: "
        "`--metadata role-column=NAME` (aws s3 cp) or `portal-import submit FILE --role-column NAME`.",
    ),
    (
        Case("two-contact-id-columns", b"ContactId,Role,Contact ID\n0037KWyWfty6uEv0001,Customer,003a\n"),
        "The file has two ContactId columns (column 1 'ContactId' and column 3 'Contact ID'); "
        "keep one of them and upload the file again.",
    ),
    (
        Case(
            "no-header-personal-data",
            "0037KWyWfty6uEv0001,Customer,Renée Müller,+49 30 1234567,josé.garcía@exemple.fr\r\n".encode(),
        ),
        "The first row of the file must be a header naming the ContactId and Role columns (found columns: "
        "0037KWyWfty6uEv0001, Customer, Renée Müller, +49 30 1234567, josé.garcía",
    ),
    (
        Case(
            "unclosed-quote",
            b"ContactId,Role\n0037KWyWfty6uEv0001,Customer\n003t7RWpmtcuVPw0001,Customer\n"
            b'003YGZPgJZpfWiU0001,"Customer\n003CvyzR1Z9fvwe0001,Customer\n',
        ),
        'Row 4 opens a quote (") that is never closed, so every line after it would be read as part of that row; '
        "close the quote or remove it and upload the file again.",
    ),
    (
        Case(
            "quote-swallows-rows-into-notes",
            b'ContactId,Role,Notes\n0037KWyWfty6uEv0001,Customer,"see below\n'
            b'003t7RWpmtcuVPw0001,Customer,x\n003YGZPgJZpfWiU0001,Customer,y"\n',
        ),
        "Row 2 holds, in column 3 (Notes), 2 lines with a Contact ID where the ContactId column is: a quote opened "
        "on that row and closed lines later makes them part of that cell,",
    ),
    (Case("utf-32-le", codecs.BOM_UTF32_LE + "ContactId,Role\r\n".encode("utf-32-le")), UTF32),
    (Case("utf-32-be", codecs.BOM_UTF32_BE + "ContactId,Role\r\n".encode("utf-32-be")), UTF32),
    (Case("workbook", workbook()), BINARY),
    (
        Case("utf-16-without-bom", "ContactId\tRole\r\n0037KWyWfty6uEv0001\tCustomer\r\n".encode("utf-16-le")),
        "The file looks like UTF-16 text without a byte order mark, which cannot be read reliably; "
        "save it from your spreadsheet as CSV UTF-8 (or as Unicode text) and upload it again.",
    ),
    (
        Case(
            "over-the-row-limit",
            b"ContactId,Role\n" + b"".join(b"%019d,Customer\n" % number for number in range(5)),
            parameters={"MaxRows": "3"},
        ),
        "The file has more than 3 rows; split it into files of at most 3 rows and import each one.",
    ),
    (
        Case(
            "over-the-size-limit",
            b"ContactId,Role\n" + b"0037KWyWfty6uEv0001,Customer\n" * 40,
            parameters={"MaxFileBytes": "1024"},
        ),
        "The file is 1,175 bytes, over the 1,024-byte limit; split it into smaller files and upload each.",
    ),
    (
        Case("oversized-field", b"ContactId,Role\n0037KWyWfty6uEv0001,Customer\n003a," + b"x" * 32_001 + b"\n"),
        "Row 3 has a value longer than 32,000 characters, often because a quote is never closed; "
        "fix that row and upload the file again.",
    ),
    (
        Case("row-too-large-for-a-message", huge_row(), args=("--send-activation-email",)),
        f"Row {ROWS_BEFORE_HUGE_ROW + 2} is too large to process (384,",
    ),
]


@dataclass(frozen=True)
class Run:
    exit_code: int
    report: dict[str, Any]
    stderr: str
    out: Path

    def rows(self, name: str) -> list[dict[str, str]]:
        raw = (self.out / name).read_bytes()
        assert raw.startswith(codecs.BOM_UTF8), f"{name} must start with a UTF-8 BOM"
        return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))

    def summary(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "summary.json").read_text(encoding="utf-8")))

    def notification(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "notification.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    # Given every file written out, imported one after another in one process
    work = tmp_path_factory.mktemp("awkward")
    cases = [*ACCEPTED, *(case for case, _ in REFUSED)]
    requests = []
    for case in cases:
        source = work / f"{case.name}.csv"
        source.write_bytes(case.data)
        argv = ["local", "run", str(source), "--json", "--stats", "--out", str(work / case.name), *case.args]
        requests.append({"argv": argv, "parameters": case.parameters})
    results = run_in_one_process(requests, work)
    return {
        case.name: Run(
            exit_code=result["exitCode"],
            report=json.loads(result["stdout"]) if result["stdout"].strip() else {},
            stderr=result["stderr"],
            out=work / case.name,
        )
        for case, result in zip(cases, results, strict=True)
    }


def created(run: Run) -> list[tuple[str, str, str]]:
    rows = run.rows("success.csv")
    assert all(row["UserId"].startswith("005") and len(row["UserId"]) == 19 for row in rows)
    assert {row["ActivationEmail"] for row in rows} <= {"Not requested"}
    return [(row["RowNumber"], row["ContactId"], row["Role"]) for row in rows]


def failed(run: Run) -> list[tuple[str, str, str, str]]:
    return [(row["RowNumber"], row["ContactId"], row["Role"], row["Error"]) for row in run.rows("failure.csv")]


def assert_completed(run: Run, succeeded: int, failures: int) -> None:
    assert run.exit_code == 0, run.stderr[-2000:]
    summary = run.summary()
    assert (summary["status"], summary["error"]) == ("COMPLETED", None)
    counts = (summary["totalRows"], summary["succeeded"], summary["failed"])
    assert counts == (succeeded + failures, succeeded, failures)
    assert run.notification()["attributes"]["event"] == "import-completed"


# --- files that import ---------------------------------------------------------------------------------------


def test_excel_unicode_text_imports_with_its_non_ascii_role(runs: dict[str, Run]) -> None:
    # Given a UTF-16 tab-delimited file as Excel saves it, with a blank record and a quoted line break
    run = runs["excel-unicode-text"]

    # Then every row lands where it should, numbered as in the file, the accented Role intact
    assert_completed(run, succeeded=3, failures=2)
    assert created(run) == [
        ("2", "0037KWyWfty6uEv0001", "Partenaire Privilégié"),
        ("3", "003pOlWe4kL5ZYI0001", "Customer"),
        ("7", "003YGZPgJZpfWiU0001", "Distributor Admin"),
    ]
    assert failed(run) == [
        (
            "5",
            "003zHgmeM90Kgba0001",
            "Customer",
            "User already exists: Contact 003zHgmeM90Kgba0001 already has portal user 005SnSkyrJGSldQ0001; "
            "no action is needed",
        ),
        (
            "6",
            "003t7RWpmtcuVPw0001",
            "partenaire privilégié",
            "Invalid Role: 'partenaire privilégié' (did you mean 'Partenaire Privilégié'?)",
        ),
    ]


def test_windows_1252_semicolon_file_with_cr_line_ends_imports(runs: dict[str, Run]) -> None:
    # Given a Windows-1252 file, semicolon-delimited, every line ended by a lone CR
    run = runs["windows-1252-semicolons-cr"]

    # Then
    assert_completed(run, succeeded=2, failures=4)
    assert created(run) == [
        ("2", "003t7RWpmtcuVPw0001", "Partenaire Privilégié"),
        ("4", "003YGZPgJZpfWiU0001", "Customer"),
    ]
    assert failed(run) == [
        ("3", "0036jdRU9UuEsu70001", "Reseller", "Invalid Role: 'Reseller' is not active"),
        ("5", "", "Customer", "Missing Contact ID"),
        ("6", "0038oowbJWQOp9X0001", "", "Role is required"),
        ("7", "003t7RWpmtcuVPw0001", "Customer", "Duplicate Contact ID in file: same Contact as row 2"),
    ]


def test_pipe_file_with_multi_line_values_padding_and_ragged_rows_imports(runs: dict[str, Run]) -> None:
    # Given a pipe-delimited file: extra columns first, padded names and values, multi-line quoted notes,
    # a short row, a long row, a blank record and a stray NUL in one Contact ID
    run = runs["pipes-multi-line-ragged"]

    # Then the short row fails by rule 1, the long one succeeds, the NUL fails its row only (shown as \\x00),
    # and the failure file keeps every input value as it was (padding included)
    assert_completed(run, succeeded=3, failures=2)
    assert created(run) == [
        ("2", "003Sw050SbYxr5d0001", "Customer"),
        ("4", "0037KWyWfty6uEv0001", "Distributor Admin"),
        ("7", "003CvyzR1Z9fvwe0001", "Partner User"),
    ]
    assert failed(run) == [
        ("3", "", "Partner User", "Missing Contact ID"),
        ("6", "0036jdRU9UuEsu7000\x00", "Customer", "Contact not found: no Contact has ID '0036jdRU9UuEsu7000\\x00'"),
    ]


def test_a_quote_closed_lines_later_fails_its_row_saying_a_quote_may_be_missing(runs: dict[str, Run]) -> None:
    # Given a Role cell that a stray quote stretches over the two lines after it
    run = runs["stray-quote-closed-lines-later"]

    # Then the row holding those lines fails and says why rows seem to be missing; the others import
    assert_completed(run, succeeded=2, failures=1)
    assert [row[:2] for row in created(run)] == [("2", "0037KWyWfty6uEv0001"), ("4", "003Sw050SbYxr5d0001")]
    [(row, contact, role, error)] = failed(run)
    assert (row, contact) == ("3", "003t7RWpmtcuVPw0001")
    assert role == "Customer\n003YGZPgJZpfWiU0001,Customer\n003CvyzR1Z9fvwe0001,Customer"
    assert error.startswith("Invalid Role: 'Customer\\n003YGZPgJZpfWiU0001,Customer\\n003CvyzR1Z9fvwe0001,Cu...'")
    assert error.endswith("; the Role holds 2 line breaks: a quote may be missing")


def test_stray_bytes_far_into_a_utf8_file_change_only_their_own_rows(runs: dict[str, Run]) -> None:
    # Given a UTF-8 file whose row 2 has a UTF-8 Role, with bytes that are not UTF-8 on row 6 and a Windows-1252
    # row 10, each more than 100 KB in
    run = runs["utf-8-with-stray-bytes-far-in"]

    # Then row 2's Role reads as UTF-8, the pasted row as Windows-1252, the last as UTF-8 again
    assert_completed(run, succeeded=4, failures=6)
    assert created(run) == [
        ("2", "0037KWyWfty6uEv0001", "Partenaire Privilégié"),
        ("6", "003YGZPgJZpfWiU0001", "Customer"),
        ("10", "003t7RWpmtcuVPw0001", "Partenaire Privilégié"),
        ("11", "003CvyzR1Z9fvwe0001", "Partenaire Privilégié"),
    ]
    assert {error for *_, error in failed(run)} == {"Missing Contact ID"}


def test_invisible_characters_are_shown_as_escapes_in_the_error(runs: dict[str, Run]) -> None:
    # Given Roles and a Contact ID holding characters no one can see
    run = runs["invisible-characters"]

    # Then each fails by its rule, its cell kept as it was, its error showing the character as an escape
    assert_completed(run, succeeded=0, failures=4)
    rows = failed(run)
    assert [(row, contact, role) for row, contact, role, _ in rows] == [
        ("2", "0037KWyWfty6uEv0001", "Customer\u202e"),
        ("3", "003t7RWpmtcuVPw0001", "Cust\u200bomer"),
        ("4", "003YGZPgJZpfWiU0001", "\x1b[31mCustomer"),
        ("5", "003CvyzR1Z9fvwe00\x001", "Customer"),
    ]
    errors = [error for *_, error in rows]
    assert errors[0].startswith("Invalid Role: 'Customer\\u202e' is not an active portal Role")
    assert errors[1].startswith("Invalid Role: 'Cust\\u200bomer' is not an active portal Role")
    assert errors[2].startswith("Invalid Role: '\\x1b[31mCustomer' is not an active portal Role")
    assert errors[3] == "Contact not found: no Contact has ID '003CvyzR1Z9fvwe00\\x001'"
    assert all(error.isprintable() for error in errors)


def test_a_dos_end_of_file_byte_adds_no_row(runs: dict[str, Run]) -> None:
    # Given a file ended by Ctrl-Z after its last line, as DOS tools write it
    run = runs["dos-end-of-file-byte"]

    # Then it has one row, which imports
    assert_completed(run, succeeded=1, failures=0)
    assert created(run) == [("2", "0037KWyWfty6uEv0001", "Customer")]


def test_no_value_of_any_file_reaches_the_function_logs(runs: dict[str, Run]) -> None:
    # Given every file imported above, and the cells each holds (decoded as the reader would)
    for case in [*ACCEPTED, *(case for case, _ in REFUSED)]:
        logs = (runs[case.name].out / "function-logs.jsonl").read_text(encoding="utf-8")
        unescaped = json.dumps([json.loads(line) for line in logs.splitlines()], ensure_ascii=False)

        # Then no log line holds any of them, whatever its alphabet
        for cell in sorted(_cells(case.data)):
            assert cell not in logs and cell not in unescaped, f"{case.name}: {cell!r} is in the function logs"


_HEADER_WORDS = {"contactid", "contact id", "contact_id", "role", " role ", "notes", "email", "commentaire"}


def _cells(data: bytes) -> set[str]:
    """The distinctive cell values of a file: every value of 4 characters or more, headers left out."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        text = data.decode("utf-32")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    elif data.startswith(b"PK"):
        return set()
    else:
        text = data.decode("utf-8", errors="ignore")
    values = set()
    for line in text.replace("\r", "\n").split("\n"):
        for delimiter in ",;\t|":
            values.update(value.strip().strip('"') for value in line.split(delimiter))
    return {value for value in values if len(value) >= 4 and value.casefold() not in _HEADER_WORDS}


# --- files refused as a whole --------------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "error"), REFUSED, ids=[case.name for case, _ in REFUSED])
def test_refused_file_fails_as_a_whole_with_one_sentence(runs: dict[str, Run], case: Case, error: str) -> None:
    # Given the file imported
    run = runs[case.name]
    summary = run.summary()

    # Then the command exits 1 with the reason on stderr, without a traceback
    assert run.exit_code == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert summary["error"].startswith(error)
    assert f"portal-import: the file was rejected: {summary['error']}" in run.stderr
    # And the job has a FAILED summary whose counts add up, empty result files and one notification saying why
    assert summary["status"] == "FAILED" and run.report["status"] == "FAILED"
    assert summary["totalRows"] == summary["succeeded"] + summary["failed"] == 0
    assert run.rows("success.csv") == [] and run.rows("failure.csv") == []
    notice = run.notification()
    assert notice["attributes"]["event"] == "import-completed"
    assert "FAILED" in notice["subject"] and f"Reason: {summary['error']}" in notice["message"]


def test_a_row_too_large_for_a_message_is_refused_before_any_chunk_goes_out(runs: dict[str, Run]) -> None:
    # Given a file whose row 12,002 cannot be sent to a worker, imported with activation emails on
    run = runs["row-too-large-for-a-message"]

    # Then the error names the row and says what to do
    assert run.summary()["error"].endswith("correct that row and upload the file again.")
    # And not one chunk of the 12,000 rows before it went to a worker: no user, no email
    assert run.report["awsRequests"]["SQS.SendMessageBatch"] == 1  # the aggregate request alone
    assert run.report["emailsSent"] == 0 and run.report["succeeded"] == 0
    assert list((run.out / "outbox").glob("*.eml")) == []
