"""Keys an administrator's S3 client can give a file, on moto: one with a control character (an escape, a line
break, a NUL...) fails its job in one sentence naming the key with its escapes, and still gets its FAILED results
and exactly one notification; one with only other invisible characters (a bidi override) is imported."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest

from portal_import.domain.job import JobStatus

from .conftest import with_bodies

ROW = b"ContactId,Role\r\n0037KWyWfty6uEv0001,Customer\r\n"


def drop(cloud: Any, key: str) -> dict[str, Any]:
    """The file dropped under `key`, and the notification S3 sends for it (keys URL-encoded, spaces as '+')."""
    event: dict[str, Any] = cloud.upload(key, ROW, {})
    event["Records"][0]["s3"]["object"]["key"] = quote_plus(key, safe="/")
    return event


@pytest.mark.parametrize(
    ("key", "shown", "named"),
    [
        (
            "imports/\x1b[2J\x1b[31mpartners.csv",
            "'imports/\\x1b[2J\\x1b[31mpartners.csv'",
            "a control character (\\x1b)",
        ),
        ("imports/march\nRows: 0.csv", "'imports/march\\nRows: 0.csv'", "a control character (\\n)"),
        (
            "imports/a\x00b\r\x7f\x85.csv",
            "'imports/a\\x00b\\r\\x7f\\x85.csv'",
            "control characters (\\x00, \\r, \\x7f, \\x85)",
        ),
    ],
    ids=["escape", "line break", "nul cr del c1"],
)
def test_a_key_with_control_characters_fails_its_job_in_one_sentence_with_one_notification(
    cloud: Any, load_event: Any, key: str, shown: str, named: str
) -> None:
    # Given an administrator subscribed to the results topic, and a good file dropped under that key
    cloud.seed_directory()
    admin = cloud.subscribe_inbox()
    event = drop(cloud, key)

    # When S3 notifies the splitter, and the aggregator is asked for the results
    (job_id,) = cloud.splitter(event)["jobIds"]
    assert cloud.rows_messages() == []
    (request,) = cloud.aggregate_messages()
    assert cloud.aggregator(with_bodies(load_event("sqs_aggregate"), json.dumps(request))) == {"batchItemFailures": []}

    # Then the job FAILED, and its summary says why in one sentence naming the key with its escapes
    assert cloud.job(job_id).status is JobStatus.FAILED
    summary = json.loads(cloud.read(f"results/{job_id}/summary.json"))
    assert (summary["status"], summary["sourceKey"], summary["totalRows"]) == ("FAILED", key, 0)
    assert summary["error"] == (
        f"The file's name {shown} holds {named}, which show as something else or nothing wherever the name is read; "
        f"rename the file without {'them' if 'characters' in named else 'it'} and upload it again."
    )
    # and exactly one results-ready message says so, with no raw control character in it
    (envelope,) = [json.loads(body) for body in cloud.drain(admin)]
    assert envelope["MessageAttributes"]["event"]["Value"] == "import-completed"
    assert envelope["MessageAttributes"]["status"]["Value"] == "FAILED"
    assert summary["error"] in envelope["Message"]
    assert not any(char in envelope["Message"] + envelope["Subject"] for char in "\x00\x1b\r\x7f\x85")


def test_a_key_with_a_bidi_override_is_imported_under_its_own_key(cloud: Any) -> None:
    # Given a file whose name holds a right-to-left override (no control character)
    cloud.seed_directory()
    key = "imports/\u202evsc.csv"

    # When S3 notifies the splitter
    (job_id,) = cloud.splitter(drop(cloud, key))["jobIds"]

    # Then its job runs, under the key as it is, and its row is queued
    job = cloud.job(job_id)
    assert (job.status, job.source_key) == (JobStatus.PROCESSING, key)
    assert [len(chunk["rows"]) for chunk in cloud.rows_messages()] == [1]
