"""The administrator's commands (`directory load`, `submit`, `status`, `watch`, `results`, `jobs`, `resend`, `template`)
against `portal-import local serve` through --endpoint-url, as subprocesses: the worked example imported and
followed to its results, a validate run that creates nobody, and the errors a person would make."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from serving import serve_environment, start_serve, stop_serve  # noqa: E402

EXAMPLE = ROOT / "tests" / "fixtures" / "mixed"
CLI = [sys.executable, "-m", "portal_import_cli"]
STACK = "portal-import-local"
JOB_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}$")
FAST = ("--interval", "0.25")  # the local jobs take seconds: read them more often than a person needs


def portal_import(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=180, cwd=cwd, env=serve_environment(cwd)
    )


@dataclass
class Server:
    process: subprocess.Popen[str]
    endpoint: str
    work: Path

    def run(self, *args: str | Path, stack: bool = True) -> subprocess.CompletedProcess[str]:
        """`portal-import ARGS --stack portal-import-local --endpoint-url URL` (the stack left out when not wanted)."""
        where = ["--stack", STACK] if stack else []
        return portal_import(*args, *where, "--endpoint-url", self.endpoint, cwd=self.work)

    def client(self, service: str) -> Any:
        """A boto3 client on the served stack (any credentials do)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def outputs(self) -> dict[str, str]:
        stack = self.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `local serve` for the module, started with an empty directory: `directory load` has to seed it."""
    work = tmp_path_factory.mktemp("admin")
    (work / "no-contacts.csv").write_text("ContactId,SalesforceId,Email,FirstName,LastName,PortalUserId\n")
    (work / "no-roles.csv").write_text("Name,Active\n")
    process, ready = start_serve(work / "no-contacts.csv", work / "no-roles.csv", cwd=work, env=serve_environment(work))
    yield Server(process, ready["endpoint"], work)
    stop_serve(process)


@pytest.fixture(scope="module")
def seeded(server: Server) -> subprocess.CompletedProcess[str]:
    return server.run("directory", "load", "--contacts", EXAMPLE / "contacts.csv", "--roles", EXAMPLE / "roles.csv")


@pytest.fixture(scope="module")
def imported(server: Server, seeded: Any) -> tuple[subprocess.CompletedProcess[str], str]:
    """The worked example submitted with activation emails on, followed to the end."""
    result = server.run("submit", EXAMPLE / "import.csv", "--send-activation-email", "--wait", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, result.stdout.splitlines()[0]


def _expected() -> list[dict[str, str]]:
    return list(csv.DictReader((EXAMPLE / "expected.csv").read_text(encoding="utf-8").splitlines()))


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_bytes().decode("utf-8-sig").splitlines()))


def test_directory_load_seeds_a_new_stack(server: Server, seeded: subprocess.CompletedProcess[str]) -> None:
    # Given a stack served with an empty directory / When the worked example's directory is loaded
    # Then the counts of what was written are reported
    assert seeded.returncode == 0, seeded.stderr
    contacts = list(csv.DictReader((EXAMPLE / "contacts.csv").read_text(encoding="utf-8").splitlines()))
    roles = list(csv.DictReader((EXAMPLE / "roles.csv").read_text(encoding="utf-8").splitlines()))
    with_user = sum(1 for row in contacts if row["PortalUserId"])
    active = sum(1 for row in roles if row["Active"] == "true")
    assert (
        f"Loaded {len(contacts)} contacts ({with_user} with a portal user) and {len(roles)} roles ({active} active)"
        in seeded.stdout
    )
    # and each Role is a group of the stack's pool, each existing portal user a pool user of its Contact
    cognito, pool = server.client("cognito-idp"), server.outputs()["UserPoolId"]
    assert {group["GroupName"] for group in cognito.list_groups(UserPoolId=pool)["Groups"]} == {
        row["Name"] for row in roles
    }
    for row in contacts:
        if row["PortalUserId"]:
            user = cognito.admin_get_user(UserPoolId=pool, Username=row["PortalUserId"])
            assert {"Name": "custom:contact_id", "Value": row["ContactId"]} in user["UserAttributes"]


def test_submit_wait_follows_the_worked_example_to_its_summary(imported: tuple[Any, str]) -> None:
    # Given the worked example submitted with --send-activation-email --wait
    result, job_id = imported
    expected = _expected()
    created = sum(1 for row in expected if row["Outcome"] == "created")
    queued = sum(1 for row in expected if row["ActivationEmail"] == "Queued")

    # Then the job id comes first on stdout, then the summary once the job and its emails are done
    assert JOB_ID.match(job_id), result.stdout
    assert f"Job {job_id}: COMPLETED" in result.stdout
    assert f"{len(expected)} of {len(expected)}: {created} created, {len(expected) - created} failed" in result.stdout
    assert f"{queued} queued, {queued} sent" in result.stdout
    # and the progress went to stderr as plain lines (not a terminal), the last one saying it is done
    progress = [line for line in result.stderr.splitlines() if "rows" in line]
    assert progress and progress[-1].endswith("done"), result.stderr
    assert f"emails {queued}/{queued} sent" in progress[-1]
    assert "Traceback" not in result.stderr


def test_status_and_watch_report_the_job_for_people_and_scripts(server: Server, imported: tuple[Any, str]) -> None:
    # Given the finished import
    _, job_id = imported
    expected = _expected()
    created = sum(1 for row in expected if row["Outcome"] == "created")

    # When its status is asked for, for a person and for a script
    person = server.run("status", job_id)
    script = server.run("status", job_id, "--json")

    # Then both say it completed, with every row and email accounted for
    assert person.returncode == 0, person.stderr
    assert f"Job {job_id}: COMPLETED" in person.stdout
    assert "imports/import.csv (import, activation emails on)" in person.stdout
    assert f"results/{job_id}/" in person.stdout
    report = json.loads(script.stdout)
    assert report["jobId"] == job_id
    assert (report["status"], report["mode"], report["finished"]) == ("COMPLETED", "import", True)
    assert (report["totalRows"], report["rowsDone"], report["succeeded"]) == (len(expected), len(expected), created)
    assert report["emailsSent"] == report["emailsQueued"] > 0
    # and how many of the users it created have activated: none yet, and no resend suggested while their links,
    # sent seconds ago, still work
    assert report["usersActivated"] == 0
    assert f"users    0 of {created} activated (the others' links work until they expire;" in person.stdout
    assert "--pending" not in person.stdout

    # and watching a finished job prints its summary at once
    watched = server.run("watch", job_id, "--json")
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout) == report


def test_results_downloads_the_worked_examples_outcome(server: Server, imported: tuple[Any, str]) -> None:
    # Given the finished import / When its results are downloaded
    _, job_id = imported
    out = server.work / "downloaded"
    result = server.run("results", job_id, "--out", out)

    # Then the three files are there, and every row is where the worked example says
    assert result.returncode == 0, result.stderr
    assert f"Results in {out}/" in result.stdout
    assert sorted(path.name for path in out.iterdir()) == ["failure.csv", "success.csv", "summary.json"]
    assert (out / "success.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    success = {row["RowNumber"]: row for row in _read_csv(out / "success.csv")}
    failure = {row["RowNumber"]: row for row in _read_csv(out / "failure.csv")}
    for row in _expected():
        if row["Outcome"] == "created":
            assert success[row["RowNumber"]]["ContactId"] == row["ContactId"]
            assert success[row["RowNumber"]]["ActivationEmail"] == row["ActivationEmail"]
        else:
            assert failure[row["RowNumber"]]["Error"].split(":")[0] == row["Outcome"]
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["jobId"] == job_id


def test_resend_sends_new_links_only_to_whom_it_is_asked(server: Server, imported: tuple[Any, str]) -> None:
    # Given the finished import, whose activation emails all went out
    _, job_id = imported
    out = server.work / "for-resend"
    assert server.run("results", job_id, "--out", out).returncode == 0
    queued = [row["ContactId"] for row in _read_csv(out / "success.csv") if row["ActivationEmail"] == "Queued"]
    directory = server.client("dynamodb")

    def link_of(contact_id: str) -> dict[str, Any]:
        key = {"pk": {"S": f"CONTACT#{contact_id}"}, "sk": {"S": "ACTIVATION"}}
        return dict(directory.get_item(TableName=server.outputs()["DirectoryTableName"], Key=key)["Item"])

    # When the administrator resends without naming anyone
    by_default = server.run("resend", job_id, "--json")

    # Then nobody is sent anything: each user is left out with the reason
    assert by_default.returncode == 0, by_default.stderr
    report = json.loads(by_default.stdout)
    assert report["queued"] == 0
    reached = {left["contactId"] for left in report["leftOut"] if left["reason"].startswith("was sent an activation")}
    assert reached == set(queued)

    # When one Contact is named
    before = link_of(queued[0])
    others = {contact_id: link_of(contact_id)["TokenHash"] for contact_id in queued[1:]}
    named = server.run("resend", job_id, "--contact", queued[0])

    # Then one email is queued for it, and once sent its link is a new one, recorded as this resend's
    assert named.returncode == 0, named.stderr
    assert named.stdout.startswith(f"Queued 1 activation email(s) for job {job_id}")

    def settled_as_sent(contact_id: str) -> bool:
        link = link_of(contact_id)
        if "/resend/" not in link.get("ClaimFor", {}).get("S", ""):
            return False  # not yet claimed by the resend's sender
        key = {"pk": {"S": f"emails#{link['ClaimedBy']['S']}"}}  # that sender's settlement
        settlement = directory.get_item(TableName=server.outputs()["JobsTableName"], Key=key).get("Item", {})
        return contact_id in settlement.get("Sent", {}).get("SS", [])

    deadline = time.monotonic() + 60
    while not settled_as_sent(queued[0]):
        assert time.monotonic() < deadline, "the resent email was not sent within a minute"
        time.sleep(0.25)
    link = link_of(queued[0])
    assert link["TokenHash"] != before["TokenHash"]
    assert link["SentFor"]["SS"] == [job_id]  # the import's delivery stays on record beside the resend's
    assert {contact_id: link_of(contact_id)["TokenHash"] for contact_id in queued[1:]} == others


def test_users_lists_each_user_the_job_created_with_its_email_and_activation(
    server: Server, imported: tuple[Any, str]
) -> None:
    # Given the worked example imported, every email sent
    _, job_id = imported
    out = server.work / "users-results"
    assert server.run("results", job_id, "--out", out).returncode == 0
    success = {row["RowNumber"]: row for row in _read_csv(out / "success.csv")}

    # When the administrator lists its users
    listed = server.run("users", job_id, "--json")
    table = server.run("users", job_id)

    # Then each success row is there, its email sent (or without a valid address), its link not yet used
    assert listed.returncode == 0, listed.stderr
    users = json.loads(listed.stdout)
    assert {str(user["row"]): (user["contactId"], user["userId"], user["role"]) for user in users} == {
        row: (r["ContactId"], r["UserId"], r["Role"]) for row, r in success.items()
    }
    for user in users:
        expected = "no valid email" if success[str(user["row"])]["ActivationEmail"] == "No valid email" else "sent"
        assert (user["email"], user["activation"]) == (expected, "pending"), user
    assert table.returncode == 0 and f"{len(users)} user(s) created" in table.stdout
    assert all(user["userId"] in table.stdout for user in users)


def test_template_validates_then_imports_with_explicit_names(server: Server, seeded: Any) -> None:
    # Given the sample CSV written by `template` (to a file, and the same to stdout)
    assert portal_import("template", "sample.csv", cwd=server.work).returncode == 0
    written = (server.work / "sample.csv").read_text(encoding="utf-8")
    assert portal_import("template", cwd=server.work).stdout == written
    assert written.splitlines()[0] == "ContactId,Role" and len(written.splitlines()) >= 3
    # and the stack's names given one by one instead of --stack
    outputs = server.outputs()
    names = ("--bucket", outputs["ImportBucketName"], "--jobs-table", outputs["JobsTableName"])

    # When it is submitted in validate mode with emails requested
    validate = server.run(
        "submit", "sample.csv", "--validate", "--send-activation-email", "--wait", "--json", *FAST, *names, stack=False
    )

    # Then every row would be created and emailed, and the job says it was a validation
    assert validate.returncode == 0, validate.stderr
    status = json.loads(validate.stdout)
    assert (status["mode"], status["emailsQueued"], status["emailsSent"]) == ("validate", 0, 0)
    out = server.work / "validated"
    assert server.run("results", status["jobId"], "--out", out, *names, stack=False).returncode == 0
    rows = _read_csv(out / "success.csv")
    assert len(rows) == len(written.splitlines()) - 1
    assert {row["ActivationEmail"] for row in rows} == {"Would queue"}

    # and nobody was created: importing the same file for real creates every one of them
    real = server.run(
        "submit", "sample.csv", "--no-send-activation-email", "--wait", "--json", *FAST, *names, stack=False
    )
    assert real.returncode == 0, real.stderr
    imported = json.loads(real.stdout)
    assert (imported["mode"], imported["succeeded"], imported["failed"]) == ("import", len(rows), 0)
    assert imported["upload"]["key"] == "imports/sample.csv"


def test_submit_names_the_columns_of_a_report_export_that_does_not_auto_map(server: Server, seeded: Any) -> None:
    # Given a Salesforce report export, its headers its own, with a column the import ignores
    (server.work / "report.csv").write_text(
        "Account Name,Contact: Contact ID,Portal Role\n"
        "Acme,003t5OJBMBGTVnq,Customer\n"  # a 15-character Salesforce ID
        "Globex,003Z86oG6zRA6h30001,Partner User\n"
        "Initech,003WKHbr4IxKAGG0001,Nobody\n",
        encoding="utf-8",
    )
    columns = ("--contact-id-column", "Contact: Contact ID", "--role-column", "portal role")

    # When it is submitted with its columns named, and waited for
    result = server.run("submit", "report.csv", *columns, "--wait", "--json", *FAST)

    # Then it imports as it is, and the job says which columns it read, by their headers in the file
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert (status["status"], status["succeeded"], status["failed"]) == ("COMPLETED", 2, 1)
    assert status["columns"] == {"ContactId": "Contact: Contact ID", "Role": "Portal Role"}
    assert (
        "columns  ContactId from 'Contact: Contact ID', Role from 'Portal Role'"
        in server.run("status", status["jobId"]).stdout
    )
    # and the results hold each row as read from the named columns
    out = server.work / "report-results"
    assert server.run("results", status["jobId"], "--out", out).returncode == 0
    assert [(row["RowNumber"], row["ContactId"], row["Role"]) for row in _read_csv(out / "success.csv")] == [
        ("2", "003uXvz8AgsBOHR0001", "Customer"),
        ("3", "003Z86oG6zRA6h30001", "Partner User"),
    ]
    failure = _read_csv(out / "failure.csv")
    assert [(row["RowNumber"], row["ContactId"], row["Role"]) for row in failure] == [
        ("4", "003WKHbr4IxKAGG0001", "Nobody")
    ]
    assert failure[0]["Error"].startswith("Invalid Role")


def test_submit_with_a_column_the_file_lacks_is_refused_listing_the_columns_found(server: Server) -> None:
    # Given a report export / When it is submitted naming a ContactId column it does not have
    (server.work / "report-wrong.csv").write_text("Contact: Contact ID,Portal Role\n003a,Customer\n", encoding="utf-8")
    result = server.run("submit", "report-wrong.csv", "--contact-id-column", "Contact ID", "--wait", *FAST)

    # Then the job FAILED, and one sentence on stderr names the columns the file has
    assert result.returncode == 1, result.stderr
    rejected = [line for line in result.stderr.splitlines() if "the file was rejected" in line]
    assert rejected == [
        "portal-import: the file was rejected: The contactid-column metadata (--contact-id-column) names the column "
        "'Contact ID', which the file does not have (found columns: Contact: Contact ID, Portal Role); name the "
        "column that holds the Contact IDs as its header reads and upload the file again."
    ]


def test_jobs_lists_recent_jobs_newest_first(server: Server, imported: tuple[Any, str]) -> None:
    # Given at least the worked example's job / When the jobs are listed
    _, job_id = imported
    listed = json.loads(server.run("jobs", "--json").stdout)
    table = server.run("jobs")

    # Then it is among them with its state, newest first
    ids = [job["jobId"] for job in listed]
    assert job_id in ids
    assert all(JOB_ID.match(each) for each in ids)  # and nothing else the jobs table holds (the email rate limiter)
    assert ids == sorted(ids, reverse=True)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["JOB", "STATUS", "MODE"]
    line = next(line for line in table.stdout.splitlines() if line.startswith(job_id))
    assert "COMPLETED" in line and "imports/import.csv" in line


def test_a_rejected_file_fails_the_wait_with_its_reason(server: Server) -> None:
    # Given a file without a Role column
    (server.work / "no-role.csv").write_text("ContactId,Notes\n0037KWyWfty6uEv0001,x\n", encoding="utf-8")

    # When it is submitted and waited for
    result = server.run("submit", "no-role.csv", "--wait", *FAST)

    # Then the job FAILED, and the command says why in one sentence and exits 1
    assert result.returncode == 1, result.stderr
    assert "FAILED" in result.stdout
    rejected = [line for line in result.stderr.splitlines() if "the file was rejected" in line]
    assert len(rejected) == 1 and "Role" in rejected[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "sentence"),
    [
        (("status", "20250101T000000Z-000000000000"), 1, "there is no job 20250101T000000Z-000000000000"),
        (("jobs", "--stack", "no-such-stack"), 1, "there is no stack no-such-stack"),
        (("submit", EXAMPLE / "roles.csv.txt"), 2, "roles.csv.txt does not end in .csv: only imports/*.csv starts"),
        (
            ("resend", "20250101T000000Z-000000000000", "--pending", "--contact", "0037KWyWfty6uEv0001"),
            2,
            "give --pending or --contact, not both.",
        ),
    ],
    ids=["unknown-job", "unknown-stack", "not-csv", "pending-and-contact"],
)
def test_mistakes_are_one_sentence_and_an_exit_status(
    server: Server, args: tuple[str | Path, ...], code: int, sentence: str
) -> None:
    # When an administrator names a job, stack or file that is not there
    result = server.run(*args, stack="--stack" not in args)

    # Then one sentence says so on stderr, with the exit status scripts rely on
    assert result.returncode == code, result.stderr
    assert sentence in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_directory_load_users_from_pool_records_the_users_an_adopted_pool_has(server: Server, seeded: Any) -> None:
    # Given a pool user made outside the import for a Contact the file gives no portal user (an adopted pool's)
    cognito, outputs = server.client("cognito-idp"), server.outputs()
    contact = "003029fuczTpXxV0001"  # in the directory, not in the worked example's import
    cognito.admin_create_user(
        UserPoolId=outputs["UserPoolId"],
        Username="005ADOPTEDUSER00001",
        UserAttributes=[{"Name": "custom:contact_id", "Value": contact}],
        MessageAction="SUPPRESS",
    )
    bare = server.work / "contacts-without-users.csv"
    rows = (EXAMPLE / "contacts.csv").read_text(encoding="utf-8").splitlines()
    bare.write_text("\n".join([rows[0], *(row.rsplit(",", 1)[0] + "," for row in rows[1:])]) + "\n")

    # When the directory is loaded from the pool's users
    result = server.run("directory", "load", "--contacts", bare, "--roles", EXAMPLE / "roles.csv", "--users-from-pool")

    # Then that Contact now has that portal user, so rule 6 holds for it
    assert result.returncode == 0, result.stderr
    item = server.client("dynamodb").get_item(
        TableName=outputs["DirectoryTableName"], Key={"pk": {"S": f"CONTACT#{contact}"}, "sk": {"S": "USER"}}
    )["Item"]
    assert item["UserId"]["S"] == "005ADOPTEDUSER00001"


def test_resend_pending_sends_a_new_link_to_every_user_not_activated(server: Server, imported: tuple[Any, str]) -> None:
    # Given the finished import, whose activation emails all went out, and one of its users who has activated since
    _, job_id = imported
    out = server.work / "for-pending"
    assert server.run("results", job_id, "--out", out).returncode == 0
    success = _read_csv(out / "success.csv")
    emailed = [row["ContactId"] for row in success if row["ActivationEmail"] == "Queued"]
    server.client("dynamodb").update_item(
        TableName=server.outputs()["DirectoryTableName"],
        Key={"pk": {"S": f"CONTACT#{emailed[0]}"}, "sk": {"S": "ACTIVATION"}},
        UpdateExpression="SET ActivatedAt = :at",  # what the activation leaves on the user's activation item
        ExpressionAttributeValues={":at": {"S": "2026-12-01T10:00:00.000Z"}},
    )

    # When the administrator resends to every user still pending
    result = server.run("resend", job_id, "--pending")

    # Then every other user with an email address is queued a new link, although each was reached before
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Queued {len(emailed) - 1} activation email(s) for job {job_id}")
    # and the one who activated is left out with the reason, as are those without a valid email address
    assert f"Left out {len(success) - len(emailed) + 1}:" in result.stdout
    assert f"  {emailed[0]}: has already activated their account" in result.stdout.splitlines()
