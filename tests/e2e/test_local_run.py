"""`portal-import local run` end to end, as an administrator runs it: exact result files, summary,
notification and outbox for the worked example, validate mode, a rejected file, and usage errors."""

from __future__ import annotations

import csv
import email
import email.policy
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "mixed"
CLI = [sys.executable, "-m", "portal_import_cli"]
# The worked example's file and directory, imported with activation emails on.
WORKED_EXAMPLE = (
    FIXTURES / "import.csv",
    "--contacts",
    FIXTURES / "contacts.csv",
    "--roles",
    FIXTURES / "roles.csv",
    "--send-activation-email",
)


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "local", "run", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'local'}", "HOME": str(cwd)},
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} must start with a UTF-8 BOM"
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


@pytest.fixture(scope="module")
def mixed_import(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    work = tmp_path_factory.mktemp("mixed")
    out = work / "results"
    result = run_cli(
        *WORKED_EXAMPLE,
        "--out",
        out,
        "--json",
        "--stats",
        cwd=work,
    )
    return result, out


def test_worked_example_puts_every_row_where_expected(mixed_import: tuple[Any, Path]) -> None:
    # Given the worked example imported with activation emails on
    result, out = mixed_import
    assert result.returncode == 0, result.stderr
    expected = list(csv.DictReader((FIXTURES / "expected.csv").read_text(encoding="utf-8").splitlines()))

    # When the administrator opens the two result files
    success = read_csv(out / "success.csv")
    failure = read_csv(out / "failure.csv")

    # Then each row is in exactly one file, sorted, with the expected resolution, email status or error
    assert [int(r["RowNumber"]) for r in success] == sorted(int(r["RowNumber"]) for r in success)
    assert [int(r["RowNumber"]) for r in failure] == sorted(int(r["RowNumber"]) for r in failure)
    created = {r["RowNumber"]: r for r in success}
    failed = {r["RowNumber"]: r for r in failure}
    assert set(created) | set(failed) == {e["RowNumber"] for e in expected}
    assert not set(created) & set(failed)
    for row in expected:
        if row["Outcome"] == "created":
            got = created[row["RowNumber"]]
            assert (got["ContactId"], got["Role"], got["ActivationEmail"]) == (
                row["ContactId"],
                row["InputRole"].strip(),
                row["ActivationEmail"],
            ), row
            assert got["UserId"].startswith("005") and len(got["UserId"]) == 19
        else:
            got = failed[row["RowNumber"]]
            assert got["Error"].startswith(row["Outcome"]), (row, got)
            # The failure file keeps the input as it was, so it can be corrected and dropped back
            assert (got["ContactId"], got["Role"]) == (row["InputContactId"], row["InputRole"])


def test_summary_and_json_report_agree_and_add_up(mixed_import: tuple[Any, Path]) -> None:
    result, out = mixed_import
    report = json.loads(result.stdout)  # --json: one object and nothing else on stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary) == {
        "jobId",
        "sourceKey",
        "status",
        "error",
        "mode",
        "columns",
        "totalRows",
        "succeeded",
        "failed",
        "sendActivationEmail",
        "emailsQueued",
        "startedAt",
        "completedAt",
        "successKey",
        "failureKey",
    }
    assert summary["status"] == "COMPLETED" and summary["error"] is None
    assert summary["columns"] == {"ContactId": "ContactId", "Role": "Role"}  # auto-mapped, as the file has them
    assert (summary["totalRows"], summary["succeeded"], summary["failed"]) == (40, 28, 12)
    assert summary["totalRows"] == summary["succeeded"] + summary["failed"]
    assert summary["emailsQueued"] == 21 and summary["sendActivationEmail"] is True
    assert summary["successKey"] == f"results/{summary['jobId']}/success.csv"
    assert {k: report[k] for k in ("jobId", "status", "totalRows", "succeeded", "failed", "emailsQueued")} == {
        k: summary[k] for k in ("jobId", "status", "totalRows", "succeeded", "failed", "emailsQueued")
    }
    assert report["emailsSent"] == 21 and report["resultDir"] == str(out)
    # --stats counts only what function code asked of AWS
    # 21 emails at the default 10 a second: SES bulk calls of half a second's worth (5 recipients)
    assert report["awsRequests"]["SES.SendBulkTemplatedEmail"] == 5
    assert report["awsRequests"]["SNS.Publish"] == 2  # results ready, then all activation emails sent
    assert len(report["emailSendTimes"]) == 21 and report["wallSeconds"] > 0
    assert report["awsThrottles"] == {}  # without --aws-quotas the local AWS refuses nothing


def test_send_times_respect_the_email_rate(mixed_import: tuple[Any, Path]) -> None:
    # The template's default rate is 10 emails a second: no window of W seconds holds more than 10*W + 10
    result, _ = mixed_import
    times = sorted(json.loads(result.stdout)["emailSendTimes"])
    for i, start in enumerate(times):
        within_one_second = [t for t in times[i:] if t - start < 1.0]
        assert len(within_one_second) <= 10 + 10


def test_notification_names_file_counts_status_and_links(mixed_import: tuple[Any, Path]) -> None:
    _, out = mixed_import
    notice = json.loads((out / "notification.json").read_text(encoding="utf-8"))
    assert notice["attributes"]["event"] == "import-completed"
    assert "import.csv" in notice["subject"] and "28 created" in notice["subject"] and "12 failed" in notice["subject"]
    message = notice["message"]
    assert ("s3://" in message and "failure.csv" in message and "X-Amz-" in message) or "Signature=" in message
    assert "Invalid Role: 1" in message and "User already exists: 2" in message


def test_printed_notification_names_the_downloaded_files_where_the_stack_published_links(tmp_path: Path) -> None:
    # Given the worked example imported as an administrator runs it: printed for a person, results in the default
    # folder under the current directory
    result = run_cli(*WORKED_EXAMPLE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (job_dir,) = (tmp_path / "import-results").iterdir()
    # Then the printed notification has no pre-signed link, which would lead nowhere once the run is over
    assert "s3.amazonaws.com" not in result.stdout and "X-Amz-" not in result.stdout
    # but names each result file by its path as typed from where the command ran, under a heading that says so
    shown = f"import-results/{job_dir.name}"
    assert f"Result files (downloaded into {shown}/; on AWS the message has links that work for up to 7 days" in (
        result.stdout
    )
    paths = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(f"{shown}/")]
    assert paths == [f"{shown}/success.csv", f"{shown}/failure.csv", f"{shown}/summary.json"]
    assert all((tmp_path / path).is_file() for path in paths)
    # while notification.json still holds the message as the stack published it, pre-signed links and all
    message = json.loads((job_dir / "notification.json").read_text(encoding="utf-8"))["message"]
    assert message.count("s3.amazonaws.com/results/") == 3 and "X-Amz-Signature=" in message
    assert "the links work until" in message and "downloaded into" not in message


def test_outbox_holds_one_activation_email_per_queued_user(mixed_import: tuple[Any, Path]) -> None:
    _, out = mixed_import
    emails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((out / "outbox").glob("*.eml"))
    ]
    success = read_csv(out / "success.csv")
    contacts = {r["ContactId"]: r for r in csv.DictReader((FIXTURES / "contacts.csv").read_text().splitlines())}
    queued = sorted(contacts[r["ContactId"]]["Email"] for r in success if r["ActivationEmail"] == "Queued")
    assert sorted(m["To"] for m in emails) == queued
    first = emails[0]
    text = first.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    assert "/activate?token=" in text and "expires" in text
    assert first.get_body(preferencelist=("html",)) is not None  # type: ignore[attr-defined]


def test_deliveries_say_for_each_user_what_became_of_its_activation_email(mixed_import: tuple[Any, Path]) -> None:
    # Given the worked example imported with activation emails on
    _, out = mixed_import

    # When the administrator opens deliveries.json
    deliveries = json.loads((out / "deliveries.json").read_text(encoding="utf-8"))

    # Then it has one entry per user the job created, by row, saying where its email stands and what SES reported
    created = [r for r in read_csv(out / "success.csv") if r["UserId"]]
    assert [(d["row"], d["contactId"], d["userId"]) for d in deliveries] == [
        (int(r["RowNumber"]), r["ContactId"], r["UserId"]) for r in created
    ]
    assert all(set(d) == {"row", "contactId", "userId", "email", "delivery", "deliveryDetail"} for d in deliveries)
    queued = {r["ContactId"] for r in created if r["ActivationEmail"] == "Queued"}
    assert {d["contactId"] for d in deliveries if d["email"] == "sent"} == queued
    # and, the worked example's addresses being ordinary ones, every email sent was delivered
    assert {d["contactId"]: d["delivery"] for d in deliveries if d["delivery"]} == dict.fromkeys(queued, "delivered")


def test_a_directory_of_simulator_addresses_shows_every_users_true_outcome(tmp_path: Path) -> None:
    # Given a directory whose addresses are SES mailbox simulator ones (success, bounce, complaint, ooto,
    # suppressionlist, each with a +label)
    simulator = FIXTURES.parent / "simulator"
    result = run_cli(
        simulator / "import.csv",
        "--contacts",
        simulator / "contacts.csv",
        "--roles",
        simulator / "roles.csv",
        "--send-activation-email",
        "--out",
        tmp_path / "r",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr

    # Then each user's delivery is what SES would have said of its address, with why for the ones not delivered
    deliveries = {d["contactId"]: d for d in json.loads((tmp_path / "r" / "deliveries.json").read_text())}
    expected = {
        row["ContactId"]: row["Delivery"]
        for row in csv.DictReader((simulator / "expected.csv").read_text(encoding="utf-8").splitlines())
    }
    assert {c: d["delivery"] for c, d in deliveries.items()} == expected
    details = {d["deliveryDetail"] for d in deliveries.values() if d["delivery"] == "bounced"}
    assert details == {"Permanent/General: smtp; 550 5.1.1 user unknown", "Permanent/Suppressed: " + SUPPRESSED}
    assert {d["deliveryDetail"] for d in deliveries.values() if d["delivery"] == "complained"} == {"complaint (abuse)"}
    # and the job counts them
    report = json.loads(result.stdout)
    counts = Counter(expected.values())
    assert (report["emailsDelivered"], report["emailsBounced"], report["emailsComplained"]) == (
        counts["delivered"],
        counts["bounced"],
        counts["complained"],
    )


SUPPRESSED = (
    "Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid "
    "address. For more information about how to remove an address from the suppression list, see the Amazon SES "
    "Developer Guide: http://docs.aws.amazon.com/ses/latest/DeveloperGuide/remove-from-suppressionlist.html"
)


def test_validate_mode_checks_everything_and_creates_nothing(tmp_path: Path) -> None:
    # Given the worked example in validate mode, emails requested
    result = run_cli(
        *WORKED_EXAMPLE,
        "--mode",
        "validate",
        "--out",
        tmp_path / "r",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    success = read_csv(tmp_path / "r" / "success.csv")
    # Then the same rows pass and fail, no user id is issued, no email is sent
    assert (report["succeeded"], report["failed"], report["emailsSent"]) == (28, 12, 0)
    assert {r["ActivationEmail"] for r in success} == {"Would queue", "No valid email"}
    assert all(r["UserId"] == "" for r in success)
    assert list((tmp_path / "r" / "outbox").glob("*.eml")) == []
    assert not (tmp_path / "r" / "deliveries.json").exists()  # no email, nothing to say of deliveries
    # and the pool holds only the users the directory had before
    assert {user["username"] for user in json.loads((tmp_path / "r" / "pool-users.json").read_text())} == set(
        _existing_users()
    )


def _existing_users() -> dict[str, str]:
    """PortalUserId -> ContactId of the worked example's directory: the users the pool has before any import."""
    contacts = list(csv.DictReader((FIXTURES / "contacts.csv").read_text(encoding="utf-8").splitlines()))
    return {row["PortalUserId"]: row["ContactId"] for row in contacts if row.get("PortalUserId")}


def test_every_created_row_is_one_pool_user_in_exactly_its_roles_group(
    mixed_import: tuple[Any, Path],
) -> None:
    # Given the worked example imported
    result, out = mixed_import
    assert result.returncode == 0, result.stderr
    contacts = {row["ContactId"]: row for row in csv.DictReader((FIXTURES / "contacts.csv").read_text().splitlines())}
    pool = {user["username"]: user for user in json.loads((out / "pool-users.json").read_text(encoding="utf-8"))}
    success = read_csv(out / "success.csv")

    # Then each success row's UserId is a pool user for its Contact, with the Contact's names and valid email, in
    # exactly the group of its Role, waiting for its password
    for row in success:
        user = pool.pop(row["UserId"])
        contact = contacts[row["ContactId"]]
        expected = {"custom:contact_id": row["ContactId"]}
        expected |= {"given_name": contact["FirstName"]} if contact.get("FirstName") else {}
        expected |= {"family_name": contact["LastName"]} if contact.get("LastName") else {}
        if row["ActivationEmail"] != "No valid email":
            expected["email"] = contact["Email"]
        assert (user["attributes"], user["groups"], user["status"]) == (
            expected,
            [row["Role"]],
            "FORCE_CHANGE_PASSWORD",
        )
    # and the only other pool users are those the directory had: no failed row made one
    assert {username: user["attributes"]["custom:contact_id"] for username, user in pool.items()} == _existing_users()


def test_file_without_role_column_fails_as_a_whole(tmp_path: Path) -> None:
    # Given a file with no Role column
    bad = tmp_path / "no-role.csv"
    bad.write_text("ContactId,Notes\n0037KWyWfty6uEv0001,x\n", encoding="utf-8")
    # When it is imported
    result = run_cli(bad, "--out", tmp_path / "r", cwd=tmp_path)
    # Then the command exits 1 with the reason, and the job still has a summary and a notification
    assert result.returncode == 1
    assert "Role" in result.stderr and "Traceback" not in result.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "FAILED" and "Role" in summary["error"]
    assert summary["totalRows"] == summary["succeeded"] == summary["failed"] == 0
    assert read_csv(tmp_path / "r" / "success.csv") == [] and read_csv(tmp_path / "r" / "failure.csv") == []
    notice = json.loads((tmp_path / "r" / "notification.json").read_text(encoding="utf-8"))
    assert notice["attributes"]["event"] == "import-completed" and "FAILED" in notice["subject"]


@pytest.mark.parametrize(
    "args",
    [
        ["missing.csv"],
        [str(FIXTURES / "import.csv"), "--email-rate", "0"],
        [str(FIXTURES / "import.csv"), "--mode", "upsert"],
        [str(FIXTURES / "import.csv"), "--roles", str(FIXTURES / "contacts.csv")],
        [str(FIXTURES / "import.csv"), "--parameter", "MaxRowz=5"],
        [str(FIXTURES / "import.csv"), "--parameter", "MaxRows"],
    ],
)
def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path, args: list[str]) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() and "Traceback" not in result.stderr


def test_function_log_lines_name_the_service_the_template_names(mixed_import: tuple[Any, Path]) -> None:
    # Given the worked example's function logs, and the service name template.yaml gives every function
    _, out = mixed_import
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    (service,) = {line.split(":", 1)[1].strip() for line in template.splitlines() if "POWERTOOLS_SERVICE_NAME:" in line}
    lines = [json.loads(line) for line in (out / "function-logs.jsonl").read_text(encoding="utf-8").splitlines()]

    # Then every line says it, as on Lambda
    assert lines
    assert {line.get("service") for line in lines if "level" in line and "function" not in line} == {service}
