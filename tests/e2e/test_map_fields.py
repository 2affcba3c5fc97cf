"""Map Fields through `portal-import local run`: a Salesforce report export whose headers do not auto-map imports
as it is once its columns are named (UTF-16 with tabs, Windows-1252 with semicolons, a header beyond ASCII), in
validate mode too; a wrong mapping, or none, is refused with one sentence; and the failure file of a mapped import
drops back as it is, without any mapping.

All runs share one Python process (tests/fixtures/local_runs.py), each on its own freshly provisioned stack.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from local_runs import run_in_one_process  # noqa: E402

SAMPLE = ROOT / "local" / "portal_import_local" / "sample"

SALESFORCE_HEADER = ["Account Name", "Contact: Contact ID", "Email", "Portal Role", "Owner"]
SALESFORCE_COLUMNS = ("--contact-id-column", "Contact: Contact ID", "--role-column", "Portal Role")
# The report's records (against the bundled sample directory), a blank one among them.
RECORDS = [
    ["Société Générale, SA", "0037KWyWfty6uEv0001", "a@example.com", "Partenaire Privilégié", "Zoë; Sales"],
    ["Globex", "0039ufjjaJ1sjNN", "b@example.com", "Customer", "Ann"],
    ["", "", "", "", ""],
    ["Initech", "003QYorssgBz1Ms0001", "c@example.com", "Partner User", "Ann"],
    ["Umbrella", "003Sw050SbYxr5d0001", "d@example.com", "customer", "Bob"],
    ["Hooli", "", "e@example.com", "Customer", "Bob"],
    ["Stark\tIndustries", "003YGZPgJZpfWiU0001", "f@example.com", "Distributor Admin", "Ann"],
]
CREATED = [
    ("2", "0037KWyWfty6uEv0001", "Partenaire Privilégié"),
    ("3", "003pOlWe4kL5ZYI0001", "Customer"),  # the 15-character Salesforce ID, resolved
    ("8", "003YGZPgJZpfWiU0001", "Distributor Admin"),
]
FAILED = [
    (
        "5",
        "003QYorssgBz1Ms0001",
        "Partner User",
        "User already exists: Contact 003QYorssgBz1Ms0001 already has portal user 005iIjmPEtigKAp0001; "
        "no action is needed",
    ),
    ("6", "003Sw050SbYxr5d0001", "customer", "Invalid Role: 'customer' (did you mean 'Customer'?)"),
    ("7", "", "Customer", "Missing Contact ID"),
]
SALESFORCE_USED = {"ContactId": "Contact: Contact ID", "Role": "Portal Role"}


def export(header: list[str], delimiter: str) -> str:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(RECORDS)
    return text.getvalue()


def utf16_tabs() -> bytes:
    # Excel's "Unicode text" of the report: UTF-16 LE with its byte order mark, tab-delimited.
    return codecs.BOM_UTF16_LE + export(SALESFORCE_HEADER, "\t").encode("utf-16-le")


def cp1252_semicolons() -> bytes:
    # Excel's CSV of the report on a French Windows: Windows-1252, semicolons.
    return export(SALESFORCE_HEADER, ";").encode("cp1252")


def french_utf8() -> bytes:
    # A French export whose headers are beyond ASCII, which S3 metadata cannot hold as they are.
    header = ["Société", "ID du contact", "E-mail", "Rôle du portail", "Propriétaire"]
    return codecs.BOM_UTF8 + export(header, ",").encode()


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes | None  # None: the file is another run's failure.csv
    args: tuple[str, ...] = ()
    source: str = ""  # the run whose failure.csv is imported


CASES = [
    Case("utf-16-tabs", utf16_tabs(), SALESFORCE_COLUMNS),
    Case("cp1252-semicolons", cp1252_semicolons(), SALESFORCE_COLUMNS),
    Case("french-headers", french_utf8(), ("--contact-id-column", "id du contact", "--role-column", "RÔLE DU PORTAIL")),
    Case("validate", utf16_tabs(), (*SALESFORCE_COLUMNS, "--mode", "validate", "--send-activation-email")),
    Case("wrong-mapping", utf16_tabs(), ("--contact-id-column", "Contact ID", "--role-column", "Portal Role")),
    Case("no-mapping", cp1252_semicolons()),
    Case("blank-name", utf16_tabs(), ("--contact-id-column", " - ")),
    # Runs after cp1252-semicolons, on the failure file that run wrote.
    Case("failure-file-again", None, source="cp1252-semicolons"),
]


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str
    out: Path

    def rows(self, name: str) -> list[dict[str, str]]:
        raw = (self.out / name).read_bytes()
        return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))

    def summary(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "summary.json").read_text(encoding="utf-8")))

    def notification(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "notification.json").read_text(encoding="utf-8")))

    def created(self) -> list[tuple[str, str, str]]:
        return [(row["RowNumber"], row["ContactId"], row["Role"]) for row in self.rows("success.csv")]

    def failed(self) -> list[tuple[str, str, str, str]]:
        return [(row["RowNumber"], row["ContactId"], row["Role"], row["Error"]) for row in self.rows("failure.csv")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    # Given every file written out, imported one after another in one process
    work = tmp_path_factory.mktemp("map-fields")
    requests = []
    for case in CASES:
        if case.data is None:
            source = work / case.source / "failure.csv"
        else:
            source = work / f"{case.name}.csv"
            source.write_bytes(case.data)
        argv = ["local", "run", str(source), "--json", "--out", str(work / case.name), *case.args]
        requests.append({"argv": argv})
    results = run_in_one_process(requests, work)
    return {
        case.name: Run(result["exitCode"], result["stdout"], result["stderr"], work / case.name)
        for case, result in zip(CASES, results, strict=True)
    }


def assert_completed(run: Run, used: dict[str, str]) -> dict[str, Any]:
    assert run.exit_code == 0, run.stderr[-2000:]
    summary = run.summary()
    assert (summary["status"], summary["error"]) == ("COMPLETED", None)
    assert (summary["totalRows"], summary["succeeded"], summary["failed"]) == (6, 3, 3)
    # The summary and the notification say which columns were read
    assert summary["columns"] == used
    message = run.notification()["message"]
    assert f"Columns: ContactId from '{used['ContactId']}', Role from '{used['Role']}'" in message
    return summary


@pytest.mark.parametrize("name", ["utf-16-tabs", "cp1252-semicolons"])
def test_a_mapped_salesforce_export_imports_as_it_is(runs: dict[str, Run], name: str) -> None:
    # Given the report export, its columns named with --contact-id-column and --role-column
    run = runs[name]

    # Then every row lands where it should, numbered as in the file, read from the named columns
    assert_completed(run, SALESFORCE_USED)
    assert run.created() == CREATED
    # and the failure file has its own header, ContactId and Role as the named columns held them
    assert (run.out / "failure.csv").read_bytes().startswith(codecs.BOM_UTF8 + b"RowNumber,ContactId,Role,Error\r\n")
    assert run.failed() == FAILED


def test_headers_beyond_ascii_are_named_through_the_metadata(runs: dict[str, Run]) -> None:
    # Given a French export named in other case ('RÔLE DU PORTAIL'), which S3 metadata carries encoded
    run = runs["french-headers"]

    # Then the columns are found, and reported by their headers as the file has them
    assert_completed(run, {"ContactId": "ID du contact", "Role": "Rôle du portail"})
    assert run.created() == CREATED
    assert run.failed() == FAILED


def test_a_mapped_validation_checks_every_row_and_creates_nobody(runs: dict[str, Run]) -> None:
    # Given the export validated, emails requested
    run = runs["validate"]

    # Then the same rows pass and fail as in the import, but no user is created and no email sent
    summary = assert_completed(run, SALESFORCE_USED)
    assert summary["mode"] == "validate"
    assert run.created() == CREATED and run.failed() == FAILED
    assert {(row["UserId"], row["ActivationEmail"]) for row in run.rows("success.csv")} == {("", "Would queue")}
    assert list((run.out / "outbox").glob("*.eml")) == []
    existing = {row["PortalUserId"] for row in csv.DictReader((SAMPLE / "contacts.csv").open(encoding="utf-8"))}
    pool = json.loads((run.out / "pool-users.json").read_text(encoding="utf-8"))
    assert {user["username"] for user in pool} == existing - {""}


def test_a_mapping_that_names_a_column_the_file_lacks_is_refused_with_one_sentence(runs: dict[str, Run]) -> None:
    # Given the export with --contact-id-column "Contact ID", which it does not have
    run = runs["wrong-mapping"]
    summary = run.summary()

    # Then the file is refused as a whole: the sentence lists the columns found
    assert run.exit_code == 1
    assert summary["error"] == (
        "The contactid-column metadata (--contact-id-column) names the column 'Contact ID', which the file does not "
        "have (found columns: Account Name, Contact: Contact ID, Email, Portal Role, Owner); name the column that "
        "holds the Contact IDs as its header reads and upload the file again."
    )
    assert f"portal-import: the file was rejected: {summary['error']}" in run.stderr
    assert "Traceback" not in run.stderr
    # and nothing was read from it: no columns, no rows, a FAILED notification that says why
    assert (summary["status"], summary["columns"], summary["totalRows"]) == ("FAILED", None, 0)
    assert run.rows("success.csv") == [] and run.rows("failure.csv") == []
    notice = run.notification()
    assert "FAILED" in notice["subject"] and f"Reason: {summary['error']}" in notice["message"]


def test_an_export_that_does_not_auto_map_is_refused_saying_how_to_map_it(runs: dict[str, Run]) -> None:
    # Given the export imported without naming its columns
    run = runs["no-mapping"]

    # Then the sentence gives the metadata and the submit option that would import it
    assert run.exit_code == 1
    assert run.summary()["error"] == (
        "The first row of the file must be a header naming the ContactId and Role columns (found columns: Account "
        "Name, Contact: Contact ID, Email, Portal Role, Owner); add a header row such as ContactId,Role and upload "
        "the file again, or, if the file's columns have names of their own, upload it as it is with them named: "
        "`--metadata contactid-column=NAME,role-column=NAME` (aws s3 cp) or "
        "`portal-import submit FILE --contact-id-column NAME --role-column NAME`."
    )


def test_a_column_name_that_names_nothing_is_a_usage_error(runs: dict[str, Run]) -> None:
    # Given --contact-id-column " - " / Then nothing is uploaded: exit status 2 and why, without a traceback
    run = runs["blank-name"]
    assert run.exit_code == 2
    assert "' - ' names no column" in run.stderr and "Traceback" not in run.stderr
    assert not run.out.exists()


def test_the_failure_file_of_a_mapped_import_drops_back_as_it_is(runs: dict[str, Run]) -> None:
    # Given the failure file of the mapped cp1252 import, imported as it is, with no mapping
    run = runs["failure-file-again"]

    # Then its own header auto-maps, and each row fails again for its reason, ContactId and Role as before
    assert run.exit_code == 0, run.stderr[-2000:]
    summary = run.summary()
    assert summary["columns"] == {"ContactId": "ContactId", "Role": "Role"}
    assert (summary["totalRows"], summary["succeeded"], summary["failed"]) == (3, 0, 3)
    again = [(contact, role, error.split(":")[0]) for _, contact, role, error in run.failed()]
    assert again == [(contact, role, error.split(":")[0]) for _, contact, role, error in FAILED]
    assert [number for number, *_ in run.failed()] == ["2", "3", "4"]  # rows of the new file
