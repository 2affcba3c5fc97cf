"""A job as an administrator reads it (`portal-import status --json` and the console's job page): whether it is
finished, whether its emails wait for a person, where its results are, and its JSON."""

from __future__ import annotations

from typing import Any

from portal_import.domain.job import Job, JobStatus
from portal_import.domain.results import results_prefix

TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED)


def emails_expected(job: Job) -> bool:
    """Whether this job sends activation emails at all (validate mode never does)."""
    return job.send_activation_email and job.mode != "validate"


def finished(job: Job) -> bool:
    """Results written and announced, and every email it queued sent (or refused)."""
    return job.status in TERMINAL and job.emails_done >= job.emails_queued


def held(job: Job) -> bool:
    """The job's results are out and its remaining emails are held by the reputation guard, every one of them kept
    (the batches on their way are kept seconds after the hold): waiting for a person (`portal-import
    resume-emails`), not for the stack."""
    kept = job.emails_held_at is not None or job.emails_held > 0  # or kept past the last resume
    return job.status in TERMINAL and kept and job.emails_accounted


def results_uri(job: Job) -> str | None:
    return f"s3://{job.source_bucket}/{results_prefix(job.job_id)}" if job.status in TERMINAL else None


def job_json(job: Job) -> dict[str, Any]:
    """What `status --json` prints (and `watch`, `jobs` and `submit` with --json)."""
    return {
        "jobId": job.job_id,
        "sourceKey": job.source_key,
        "status": job.status.value,
        "error": job.error,
        "mode": job.mode,
        "sendActivationEmail": job.send_activation_email,
        "columns": job.columns,
        "totalRows": job.total_rows,
        "rowsDone": job.rows_done,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "emailsQueued": job.emails_queued,
        "emailsSent": job.emails_sent,
        "emailsFailed": job.emails_failed,
        "emailsDelivered": job.emails_delivered,
        "emailsBounced": job.emails_bounced,
        "emailsComplained": job.emails_complained,
        "emailsDelayed": job.emails_delayed,
        "emailsHeld": job.emails_held,
        "emailsHeldWhy": job.emails_held_why,  # while the reputation guard holds them
        "usersActivated": job.users_activated,
        "linksRenewed": job.links_renewed,  # new links users asked for from their activation page
        "startedAt": job.started_at,
        "completedAt": job.completed_at,
        "finished": finished(job),
        "results": results_uri(job),
    }
