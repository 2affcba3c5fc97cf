"""The splitter on moto, driven by events/s3_put.json: jobs start once per file version, rows fan out with rules
1-4 decided, and a file that cannot be imported ends as a FAILED job that still gets its results."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from portal_import.domain.job import JobStatus

MIXED = Path(__file__).resolve().parents[1] / "fixtures" / "mixed"
RULES_1_TO_4 = ("Missing Contact ID", "Role is required", "Invalid Role", "Duplicate Contact ID in file")


def test_a_dropped_file_starts_a_job_and_queues_its_rows_with_rule_1_to_4_errors(cloud: Any) -> None:
    # Given the worked example's directory and its import file dropped with activation emails on
    cloud.seed_directory()
    event = cloud.upload("imports/sample.csv", (MIXED / "import.csv").read_bytes(), {"send-activation-email": "true"})

    # When S3 notifies the splitter
    response = cloud.splitter(event)

    # Then one job runs with the upload's options, and every row is queued once, in order, judged by rules 1-4
    (job_id,) = response["jobIds"]
    job = cloud.job(job_id)
    assert job.status is JobStatus.PROCESSING
    assert (job.source_key, job.mode, job.send_activation_email) == ("imports/sample.csv", "import", True)
    chunks = cloud.rows_messages()
    assert len(chunks) == job.chunk_count
    assert {(c["jobId"], c["mode"], c["sendActivationEmail"]) for c in chunks} == {(job_id, "import", True)}
    rows = [row for chunk in sorted(chunks, key=lambda c: c["seq"]) for row in chunk["rows"]]
    expected = list(csv.DictReader((MIXED / "expected.csv").read_text(encoding="utf-8").splitlines()))
    assert [row["row"] for row in rows] == [int(e["RowNumber"]) for e in expected]
    assert job.total_rows == len(expected)
    for row, want in zip(rows, expected, strict=True):
        if want["Outcome"] in RULES_1_TO_4:
            assert row["error"].startswith(want["Outcome"]), (row, want)
        else:
            assert "error" not in row, (row, want)
            assert (row["contactId"], row["role"]) == (want["InputContactId"], want["InputRole"])


def test_the_same_s3_event_delivered_twice_starts_one_job(cloud: Any) -> None:
    # Given a dropped file whose notification was already handled
    cloud.seed_directory()
    event = cloud.upload("imports/sample.csv", b"ContactId,Role\r\n0037KWyWfty6uEv0001,Customer\r\n", {})
    (job_id,) = cloud.splitter(event)["jobIds"]

    # When S3 delivers the same notification again
    again = cloud.splitter(event)

    # Then no second job starts and the rows are queued only once
    assert again["jobIds"] == []
    assert cloud.job(job_id).chunk_count == 1
    assert [chunk["jobId"] for chunk in cloud.rows_messages()] == [job_id]


def test_a_file_without_a_role_column_fails_the_job_and_asks_for_results(cloud: Any) -> None:
    # Given a file with only a ContactId column
    cloud.seed_directory()
    event = cloud.upload("imports/sample.csv", b"ContactId\r\n0037KWyWfty6uEv0001\r\n", {})

    # When the splitter handles it
    (job_id,) = cloud.splitter(event)["jobIds"]

    # Then the job is FAILED with a sentence naming the missing column, no row is queued,
    # and the aggregator is asked to write the (FAILED) results
    job = cloud.job(job_id)
    assert job.status is JobStatus.FAILED
    assert "Role column" in (job.error or "")
    assert cloud.rows_messages() == []
    assert cloud.aggregate_messages() == [{"jobId": job_id}]


def test_a_bad_send_activation_email_value_fails_the_job_with_a_sentence_naming_it(cloud: Any) -> None:
    # Given a file uploaded with send-activation-email=maybe
    cloud.seed_directory()
    event = cloud.upload(
        "imports/sample.csv",
        b"ContactId,Role\r\n0037KWyWfty6uEv0001,Customer\r\n",
        {"send-activation-email": "maybe"},
    )

    # When the splitter handles it
    (job_id,) = cloud.splitter(event)["jobIds"]

    # Then the job fails, saying which option was wrong and how to fix it; nothing is processed
    job = cloud.job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "send-activation-email" in job.error
    assert "'maybe'" in job.error
    assert job.error.endswith(".")
    assert cloud.rows_messages() == []
    assert cloud.aggregate_messages() == [{"jobId": job_id}]


def test_a_key_with_spaces_is_read_from_its_url_encoded_notification(cloud: Any) -> None:
    # Given a file whose name has a space (S3 notifications encode it as '+')
    cloud.seed_directory()
    event = cloud.upload("imports/march users.csv", b"ContactId,Role\r\n0037KWyWfty6uEv0001,Customer\r\n", {})
    assert event["Records"][0]["s3"]["object"]["key"] == "imports/march+users.csv"

    # When the splitter handles it
    (job_id,) = cloud.splitter(event)["jobIds"]

    # Then the job names the real key and its row is queued
    assert cloud.job(job_id).source_key == "imports/march users.csv"
    assert [len(chunk["rows"]) for chunk in cloud.rows_messages()] == [1]
