"""A job: one import file's run through the pipeline, its identity and its progress."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from portal_import.domain.guard import Tally
from portal_import.domain.messages import Mode


class JobStatus(StrEnum):
    SPLITTING = "SPLITTING"  # the splitter is still reading the file
    PROCESSING = "PROCESSING"  # every chunk is queued; workers are accounting for rows
    COMPLETED = "COMPLETED"  # results written and announced
    FAILED = "FAILED"  # the file itself was rejected


def job_id_for(bucket: str, key: str, version: str, event_time: str) -> str:
    """The same S3 object version always gives the same job, so a redelivered event starts nothing new.

    The time prefix makes job ids sort by when the file arrived.
    """
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version}".encode()).hexdigest()[:12]
    stamp = "".join(ch for ch in event_time[:19] if ch.isdigit())
    return f"{stamp[:8]}T{stamp[8:14]}Z-{digest}"


@dataclass
class Job:
    job_id: str
    source_bucket: str
    source_key: str
    mode: Mode
    send_activation_email: bool
    status: JobStatus
    started_at: str
    error: str | None = None
    total_rows: int | None = None  # known once the splitter has read the whole file
    chunk_count: int | None = None
    chunk_starts: list[int] = field(default_factory=list)  # the first row number of each chunk, by seq
    source_version_id: str | None = None
    roles: dict[str, bool] | None = None  # the Roles as the job found them when it started: every row is judged by them
    # The header of the column each field is read from (ContactId, Role), once the splitter has read the header.
    columns: dict[str, str] | None = None
    # The split's checkpoint: the chunks before split_next_seq (split_rows data records) are queued, and
    # split_handed_on says whether a continuation from there is queued too.
    split_next_seq: int = 0
    split_rows: int = 0
    split_handed_on: bool = False
    updated_at: str = ""  # the last time the job made progress
    chunks_done: set[int] = field(default_factory=set)
    rows_done: int = 0
    succeeded: int = 0
    failed: int = 0
    emails_queued: int = 0
    emails_sent: int = 0
    emails_failed: int = 0  # refused by SES for the address: sending again would be refused again
    # Its users by what became of their latest email, as SES's events said (docs/contracts.md §7); the others sent
    # are pending.
    emails_delivered: int = 0
    emails_bounced: int = 0
    emails_complained: int = 0
    emails_delayed: int = 0
    emails_held: int = 0  # kept back by the reputation guard until `resume-emails`
    emails_held_at: str | None = None  # when the guard held the job's emails (None: not held now)
    emails_sent_at: str | None = None  # when the last of its own emails was settled as sent
    emails_held_why: str | None = None
    emails_held_notified_at: str | None = None  # the emails-held notice of the current hold
    parked: list[str] = field(default_factory=list)  # the keys of the email batches held
    guard: Tally = field(default_factory=Tally)  # the guard's counters (docs/contracts.md §7)
    guard_base: Tally = field(default_factory=Tally)  # as they were at the last resume
    links_renewed: int = 0  # new links its users asked for from their activation page (docs/contracts.md §6)
    users_activated: int = 0  # of the users it created, those who set their password since (counted on activation)
    completed_at: str | None = None
    results_requested_at: str | None = None  # an aggregate request was queued
    message_sent_at: str | None = None  # the SNS results-ready message
    event_sent_at: str | None = None  # the EventBridge event
    notified_at: str | None = None
    emails_notified_at: str | None = None  # the emails-sent notice

    @property
    def emails_done(self) -> int:
        """The job's activation emails that are settled: sent, or given up on."""
        return self.emails_sent + self.emails_failed

    @property
    def emails_accounted(self) -> bool:
        """Every activation email the job queued is sent, given up on, or kept by the reputation guard: none is
        still on its way."""
        return self.emails_done + self.emails_held >= self.emails_queued

    @property
    def all_emails_sent(self) -> bool:
        """Every activation email the job queued was sent or refused (none when it queued none)."""
        return self.emails_queued > 0 and self.emails_done >= self.emails_queued

    @property
    def all_rows_accounted(self) -> bool:
        return self.chunk_count is not None and len(self.chunks_done) >= self.chunk_count

    @property
    def ready_to_aggregate(self) -> bool:
        return self.status is JobStatus.FAILED or (self.status is JobStatus.PROCESSING and self.all_rows_accounted)


def why_no_users_yet(job: Job, command: str) -> str | None:
    """Why `command` (resend, users) cannot work on the job's users yet, in one sentence; None when it can: a
    validation created none, and a job that has not completed has no success file to read them from."""
    if job.mode == "validate":
        return f"job {job.job_id} was a validation: it created no users."
    if job.status is not JobStatus.COMPLETED:
        return f"job {job.job_id} is {job.status.value}: {command} works on a completed job" + (
            "." if job.status is JobStatus.FAILED else f" (`portal-import watch {job.job_id}` follows it)."
        )
    return None
