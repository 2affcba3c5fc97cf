"""Finishing a job, on the fakes of its ports: the result files a user downloads, the summary, and the one
announcement (with the emails-sent notice after it when every email had gone out first)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from portal_import.config import AggregatorSettings
from portal_import.domain.job import Job, JobStatus
from portal_import.domain.messages import ChunkOutcomes, Outcome
from portal_import.domain.notification import EMAILS_SENT, IMPORT_COMPLETED
from portal_import.domain.results import QUEUED
from portal_import.flows.aggregate import AggregateDeps, aggregate_job

from .fakes import Announcements, Channels, EmailsNotice, JobReader, JobTable, Notifier, Storage
from .sample_jobs import JOB_ID, a_job

SETTINGS = AggregatorSettings.from_env(
    {
        "JOBS_TABLE": "jobs",
        "RESULTS_BUCKET": "results",
        "TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:imports",
        "RESULT_LINK_TTL_SECONDS": "3600",
        "ACTIVATION_LINK_TTL_HOURS": "72",
    }
)


def _job(**changes: Any) -> Job:
    """A job of three rows in one chunk, done, that queued one activation email."""
    return a_job(**{"total_rows": 3, "chunk_count": 1, "chunks_done": {0}, "emails_queued": 1, **changes})


def _outcomes() -> list[ChunkOutcomes]:
    created = Outcome(
        row=2,
        input_contact_id="0031234567890123456",
        input_role="Customer",
        contact_id="0031234567890123456",
        role="Customer",
        user_id="005gekvcFPDjfhs0001",
        activation_email=QUEUED,
    )
    missing = Outcome(row=3, input_contact_id="", input_role="Customer", error="Missing Contact ID")
    refused = Outcome(row=4, input_contact_id="0031234567890123457", input_role="Admin", error="Invalid Role: Admin")
    return [ChunkOutcomes(job_id=JOB_ID, seq=0, outcomes=[created, missing, refused])]


def _world(job: Job) -> tuple[AggregateDeps, JobTable, Storage, Notifier]:
    jobs, files, announcer = JobTable().put(job), Storage(), Notifier()
    for chunk in _outcomes():
        files.put_outcomes(chunk)
    deps = AggregateDeps(
        job_reader=JobReader(jobs),
        announcements=Announcements(jobs),
        channels=Channels(jobs),
        emails_notice=EmailsNotice(jobs),
        storage=files,
        notifier=announcer,
    )
    return deps, jobs, files, announcer


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_finished_job_gets_its_result_files_a_summary_and_one_announcement() -> None:
    # Given a job whose every chunk is accounted for: one user created, two rows failed
    deps, jobs, files, announcer = _world(_job())

    # When its results are asked for, and the request is delivered again
    result = aggregate_job(JOB_ID, deps, SETTINGS)
    summary = result.to_json() if result else None
    again = aggregate_job(JOB_ID, deps, SETTINGS)

    # Then the success file lists the user, the failure file the rows, as they were in the file
    prefix = f"results/{JOB_ID}/"
    (user,) = _rows(files.objects[f"{prefix}success.csv"])
    assert (user["RowNumber"], user["UserId"], user["ActivationEmail"]) == ("2", "005gekvcFPDjfhs0001", QUEUED)
    failures = _rows(files.objects[f"{prefix}failure.csv"])
    assert [(row["RowNumber"], row["Error"]) for row in failures] == [
        ("3", "Missing Contact ID"),
        ("4", "Invalid Role: Admin"),
    ]
    # and the summary counts them
    assert summary is not None and again is None
    assert json.loads(files.objects[f"{prefix}summary.json"]) == summary
    assert (summary["status"], summary["totalRows"], summary["succeeded"], summary["failed"]) == ("COMPLETED", 3, 1, 2)
    # and the job is announced once on each channel, the redelivery announcing nothing
    (message,) = announcer.messages
    assert message["event"] == IMPORT_COMPLETED
    assert message["detail"]["errorCounts"] == {"Missing Contact ID": 1, "Invalid Role": 1}
    assert message["detail"]["links"]["successKeyUrl"].startswith(f"https://results.example/{prefix}success.csv")
    assert len(announcer.events) == 1
    assert jobs[JOB_ID].status is JobStatus.COMPLETED and jobs[JOB_ID].notified_at == summary["completedAt"]


def test_a_job_whose_emails_all_went_out_first_gets_the_emails_sent_notice_after_its_results() -> None:
    # Given a job whose one activation email was sent before its last row was accounted for
    deps, _, _, announcer = _world(_job(emails_sent=1))

    # When its results are announced
    aggregate_job(JOB_ID, deps, SETTINGS)

    # Then the emails-sent notice follows the results-ready message
    assert [message["event"] for message in announcer.messages] == [IMPORT_COMPLETED, EMAILS_SENT]


def test_a_job_with_chunks_still_out_is_left_alone() -> None:
    # Given a job one of whose two chunks is not accounted for yet
    deps, jobs, files, announcer = _world(_job(chunk_count=2))

    # When its results are asked for
    summary = aggregate_job(JOB_ID, deps, SETTINGS)

    # Then nothing is written or announced, and the job is still processing
    assert summary is None
    assert files.objects == {} and announcer.messages == [] and announcer.events == []
    assert jobs[JOB_ID].status is JobStatus.PROCESSING
