"""The aggregator on moto, driven by events/sqs_aggregate.json: the result files an administrator downloads, and
exactly one results-ready notification per job, FAILED jobs included."""

from __future__ import annotations

import csv
import importlib
import json
from typing import Any

import pytest

from .conftest import SAMPLE_JOB_ID, with_bodies

SUCCESS_HEADER = ["RowNumber", "ContactId", "Role", "UserId", "ActivationEmail"]
FAILURE_HEADER = ["RowNumber", "ContactId", "Role", "Error"]
FORMULA_ROW = {"row": 11, "contactId": '=HYPERLINK("http://x")', "role": "@Customer"}


def read_csv(raw: bytes) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), "result CSVs start with a UTF-8 BOM"
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


def inbox(cloud: Any, url: str) -> list[dict[str, Any]]:
    """The SNS envelopes that reached the subscribed queue."""
    return [json.loads(body) for body in cloud.drain(url)]


@pytest.fixture
def finished_job(cloud: Any, load_event: Any) -> Any:
    """The sample job with every row accounted for by the worker (sample chunks, plus a formula-looking row)."""
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=2, rows=10)
    rows = load_event("sqs_rows")
    first, second = (json.loads(record["body"]) for record in rows["Records"])
    second["rows"].append(FORMULA_ROW)
    assert cloud.worker(with_bodies(rows, json.dumps(first), json.dumps(second))) == {"batchItemFailures": []}
    assert cloud.aggregate_messages() == [{"jobId": SAMPLE_JOB_ID}]  # what the event below stands for
    return cloud


def test_a_finished_job_gets_its_result_files_and_one_notification(finished_job: Any, load_event: Any) -> None:
    # Given an administrator subscribed to the results topic, and automation to the stack's events
    cloud = finished_job
    admin = cloud.subscribe_inbox()
    automation = cloud.subscribe_events()

    # When the aggregate request is delivered
    response = cloud.aggregator(load_event("sqs_aggregate"))

    # Then the success file lists the created users, sorted, by their 19-character Contact IDs
    assert response == {"batchItemFailures": []}
    prefix = f"results/{SAMPLE_JOB_ID}/"
    assert sorted(cloud.keys(prefix)) == [f"{prefix}failure.csv", f"{prefix}success.csv", f"{prefix}summary.json"]
    success = read_csv(cloud.read(f"{prefix}success.csv"))
    assert success[0] == SUCCESS_HEADER
    assert [(r[0], r[1], r[2], r[4]) for r in success[1:]] == [
        ("2", "0037KWyWfty6uEv0001", "Partner User", "Queued"),
        ("3", "0033xPkB0HZiG8L0001", "Customer", "Queued"),
        ("4", "003MctXAzX7aNpD0001", "Distributor Admin", "Queued"),
        ("7", "003t7RWpmtcuVPw0001", "Partner User", "Queued"),
    ]
    users = cloud.directory().existing_users(r[1] for r in success[1:])
    assert {r[1]: r[3] for r in success[1:]} == {cid: user.user_id for cid, user in users.items()}
    # and the failure file keeps the input as it was, so it can be corrected and dropped back in
    failure = read_csv(cloud.read(f"{prefix}failure.csv"))
    assert failure[0] == FAILURE_HEADER
    assert [(r[0], r[1], r[2]) for r in failure[1:]] == [
        ("5", "", "Partner User"),
        ("6", "0035JNYkG8jl6v10001", "Customer"),
        ("8", "003sQaxUWXp1aEn", "Partner User"),
        ("9", "003xm4Que5andGK0001", "Customer"),
        ("10", "0038oowbJWQOp9X0001", "Legacy Partner"),
        ("11", '\'=HYPERLINK("http://x")', "'@Customer"),  # never run as a formula in a spreadsheet
    ]
    assert [r[3].split(":")[0] for r in failure[1:]] == [
        "Missing Contact ID",
        "User already exists",
        "User already exists",
        "Contact not found",
        "Invalid Role",
        "Contact not found",
    ]
    # and the summary adds up
    summary = json.loads(cloud.read(f"{prefix}summary.json"))
    assert {k: summary[k] for k in ("jobId", "sourceKey", "status", "error", "mode", "sendActivationEmail")} == {
        "jobId": SAMPLE_JOB_ID,
        "sourceKey": "imports/sample.csv",
        "status": "COMPLETED",
        "error": None,
        "mode": "import",
        "sendActivationEmail": True,
    }
    assert (summary["totalRows"], summary["succeeded"], summary["failed"], summary["emailsQueued"]) == (10, 4, 6, 4)
    assert (summary["successKey"], summary["failureKey"]) == (f"{prefix}success.csv", f"{prefix}failure.csv")
    assert summary["startedAt"] <= summary["completedAt"]
    # and exactly one import-completed message reached the administrator, naming the file and the counts
    (envelope,) = inbox(cloud, admin)
    assert envelope["MessageAttributes"]["event"]["Value"] == "import-completed"
    assert envelope["MessageAttributes"]["jobId"]["Value"] == SAMPLE_JOB_ID
    assert "sample.csv" in envelope["Subject"]
    assert f"s3://{cloud.stack.bucket}/{prefix}failure.csv" in envelope["Message"]
    assert "https://" in envelope["Message"]
    # and one Import Completed event reached automation
    (event,) = inbox(cloud, automation)
    assert (event["source"], event["detail-type"]) == ("portal-user-import", "Import Completed")
    assert event["detail"]["jobId"] == SAMPLE_JOB_ID


def test_an_aggregate_request_delivered_again_announces_nothing(finished_job: Any, load_event: Any) -> None:
    # Given a job whose results were announced
    cloud = finished_job
    admin = cloud.subscribe_inbox()
    event = load_event("sqs_aggregate")
    cloud.aggregator(event)
    summary = cloud.read(f"results/{SAMPLE_JOB_ID}/summary.json")
    assert len(inbox(cloud, admin)) == 1

    # When SQS delivers the request again
    response = cloud.aggregator(event)

    # Then no second notification is published and the results stay as they were
    assert response == {"batchItemFailures": []}
    assert inbox(cloud, admin) == []
    assert cloud.read(f"results/{SAMPLE_JOB_ID}/summary.json") == summary


def test_a_rejected_file_gets_a_failed_summary_and_header_only_result_files(cloud: Any, load_event: Any) -> None:
    # Given a job whose file the splitter rejected
    cloud.seed_directory()
    admin = cloud.subscribe_inbox()
    event = cloud.upload("imports/sample.csv", b"ContactId\r\n0037KWyWfty6uEv0001\r\n", {})
    (job_id,) = cloud.splitter(event)["jobIds"]
    (request,) = cloud.aggregate_messages()
    aggregate = with_bodies(load_event("sqs_aggregate"), json.dumps(request))

    # When its aggregate request is delivered
    assert cloud.aggregator(aggregate) == {"batchItemFailures": []}

    # Then the summary says FAILED and why, both CSVs hold only their header, and the administrator is told
    prefix = f"results/{job_id}/"
    summary = json.loads(cloud.read(f"{prefix}summary.json"))
    assert summary["status"] == "FAILED"
    assert "Role column" in summary["error"]
    assert (summary["totalRows"], summary["succeeded"], summary["failed"]) == (0, 0, 0)
    assert read_csv(cloud.read(f"{prefix}success.csv")) == [SUCCESS_HEADER]
    assert read_csv(cloud.read(f"{prefix}failure.csv")) == [FAILURE_HEADER]
    (envelope,) = inbox(cloud, admin)
    assert envelope["MessageAttributes"]["event"]["Value"] == "import-completed"
    assert envelope["MessageAttributes"]["status"]["Value"] == "FAILED"
    assert "Role column" in envelope["Message"]


def _fail_once(monkeypatch: pytest.MonkeyPatch, cls: type, method: str, fault: Exception) -> None:
    """Makes `cls.method` raise `fault` on its first call only (a transient fault, not the data)."""
    real = getattr(cls, method)
    faults = iter([fault])

    def flaky(self: Any, *args: Any, **kwargs: Any) -> Any:
        pending = next(faults, None)
        if pending is not None:
            raise pending
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, flaky)


@pytest.mark.parametrize(
    ("where", "method"),
    [
        ("portal_import.aws.jobs.Jobs", "mark_notified"),  # recording the announcement
        ("portal_import.aws.notifier.Notifier", "put_event"),  # EventBridge, after the SNS message went out
    ],
)
def test_a_retry_after_a_fault_once_announced_does_not_announce_again(
    finished_job: Any, load_event: Any, monkeypatch: pytest.MonkeyPatch, where: str, method: str
) -> None:
    # Given one step after the SNS publish fails once
    module_name, _, class_name = where.rpartition(".")
    _fail_once(monkeypatch, getattr(importlib.import_module(module_name), class_name), method, RuntimeError("fault"))
    cloud = finished_job
    admin = cloud.subscribe_inbox()
    event = load_event("sqs_aggregate")

    # When the request is handled (the step is retried in-process) and SQS delivers it again anyway
    cloud.aggregator(event)
    assert cloud.aggregator(event) == {"batchItemFailures": []}

    # Then the administrator still got exactly one results-ready message (docs/contracts.md §4)
    assert len(inbox(cloud, admin)) == 1
