"""Finishing a job, on plain fakes of its ports: the result files a user downloads, the summary, and the one
announcement (with the emails-sent notice after it when every email had gone out first)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from portal_import.config import AggregatorSettings
from portal_import.domain.job import Job, JobStatus
from portal_import.domain.messages import ChunkOutcomes, Outcome
from portal_import.domain.notification import EMAILS_SENT, IMPORT_COMPLETED
from portal_import.domain.results import QUEUED
from portal_import.flows.aggregate import AggregateDeps, aggregate_job

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


@dataclass
class Jobs:
    """The job store, as the aggregator and the emails-sent notice use it."""

    job: Job

    def get(self, job_id: str) -> Job | None:
        return self.job if job_id == self.job.job_id else None

    def stamp_completion(self, job_id: str, at: str) -> str:
        self.job = replace(self.job, completed_at=self.job.completed_at or at)
        return self.job.completed_at or at

    def mark_channel(self, job_id: str, attribute: str) -> None:
        at = "2026-11-25T10:16:00.000Z"
        if attribute == "MessageSentAt":
            self.job = replace(self.job, message_sent_at=at)
        elif attribute == "EventSentAt":
            self.job = replace(self.job, event_sent_at=at)

    def mark_notified(self, job_id: str, *, status: JobStatus, completed_at: str) -> Job:
        self.job = replace(self.job, status=status, completed_at=completed_at, notified_at=completed_at)
        return self.job

    def claim_emails_notice(self, job_id: str) -> bool:
        claimed, self.job = self.job.emails_notified_at is None, replace(self.job, emails_notified_at="now")
        return claimed

    def release_emails_notice(self, job_id: str) -> None:
        self.job = replace(self.job, emails_notified_at=None)


@dataclass
class Files:
    """The results bucket: the chunks' outcomes in, the result files out."""

    outcomes: list[ChunkOutcomes]
    written: dict[str, bytes] = field(default_factory=dict)

    def iter_outcomes(self, job_id: str) -> Iterator[ChunkOutcomes]:
        yield from self.outcomes

    @contextmanager
    def open_result(self, key: str, content_type: str) -> Iterator[io.BytesIO]:
        buffer = io.BytesIO()
        yield buffer
        self.written[key] = buffer.getvalue()

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        self.written[key] = json.dumps(document).encode()

    def uri(self, key: str) -> str:
        return f"s3://results/{key}"

    def presigned_url(self, key: str, expires_in: int) -> str:
        return f"https://results.example/{key}?expires={expires_in}"


@dataclass
class Announcer:
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def publish_message(self, *, event: str, subject: str, message: str, detail: dict[str, Any]) -> None:
        self.messages.append({"event": event, "subject": subject, "detail": detail})

    def put_event(self, *, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append({"detail_type": detail_type, "detail": detail})


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


def _world(job: Job) -> tuple[AggregateDeps, Jobs, Files, Announcer]:
    jobs, files, announcer = Jobs(job), Files(_outcomes()), Announcer()
    deps = AggregateDeps(jobs=jobs, storage=files, notifier=announcer)  # type: ignore[arg-type]
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
    (user,) = _rows(files.written[f"{prefix}success.csv"])
    assert (user["RowNumber"], user["UserId"], user["ActivationEmail"]) == ("2", "005gekvcFPDjfhs0001", QUEUED)
    failures = _rows(files.written[f"{prefix}failure.csv"])
    assert [(row["RowNumber"], row["Error"]) for row in failures] == [
        ("3", "Missing Contact ID"),
        ("4", "Invalid Role: Admin"),
    ]
    # and the summary counts them
    assert summary is not None and again is None
    assert json.loads(files.written[f"{prefix}summary.json"]) == summary
    assert (summary["status"], summary["totalRows"], summary["succeeded"], summary["failed"]) == ("COMPLETED", 3, 1, 2)
    # and the job is announced once on each channel, the redelivery announcing nothing
    (message,) = announcer.messages
    assert message["event"] == IMPORT_COMPLETED
    assert message["detail"]["errorCounts"] == {"Missing Contact ID": 1, "Invalid Role": 1}
    assert message["detail"]["links"]["successKeyUrl"].startswith(f"https://results.example/{prefix}success.csv")
    assert len(announcer.events) == 1
    assert jobs.job.status is JobStatus.COMPLETED and jobs.job.notified_at == summary["completedAt"]


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
    assert files.written == {} and announcer.messages == [] and announcer.events == []
    assert jobs.job.status is JobStatus.PROCESSING
