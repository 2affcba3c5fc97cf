"""`portal-import resume-emails JOB`: the reputation guard's hold on a job's emails ends, and the email batches it
kept go back on the email queue (docs/contracts.md §7). The guard keeps watching: it judges only the outcomes that
arrive after the resume. Running it again after a failure part-way hands back what is left; the email ledger keeps
anyone from a second email."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal_import.domain.messages import EmailBatch
from portal_import.observability import logger
from portal_import.ports import HeldEmails, JobReader, Queue

RESUME_EMAILS = "resume-emails"  # the action of the resend function's request


@dataclass(frozen=True)
class ResumeDeps:
    job_reader: JobReader
    held_emails: HeldEmails
    email_queue: Queue


def resume_emails(job_id: str, deps: ResumeDeps) -> dict[str, Any]:
    """Ends the hold and queues the held emails; the answer says how many, or `refused` with why."""
    job = deps.job_reader.get(job_id)
    if job is None:
        return {"refused": f"there is no job {job_id} in this stack; `portal-import jobs` lists the recent ones."}
    if job.emails_held_at is None and not job.parked:
        return {"refused": f"job {job_id} has no held emails: nothing to resume."}
    if job.emails_held_at is not None:
        deps.held_emails.release(job_id)
    queued = _hand_back(job_id, job.parked, deps)
    # A sender that read the hold just before it ended may park a batch a moment later: look once more.
    again = deps.job_reader.get(job_id)
    if again is not None and again.emails_held_at is None:
        queued += _hand_back(job_id, [key for key in again.parked if key not in job.parked], deps)
    logger.info("Held activation emails resumed", extra={"job": job_id, "queued": queued})
    return {"resumed": job_id, "queued": queued}


def _hand_back(job_id: str, keys: list[str], deps: ResumeDeps) -> int:
    """The parked batches back on the email queue, each forgotten once queued; returns their recipients."""
    queued = 0
    for key in keys:
        body = deps.held_emails.parked(job_id, key)
        if body is None:  # handed back by an earlier resume that stopped part-way
            continue
        recipients = len(EmailBatch.model_validate_json(body).recipients)
        deps.email_queue.send(body)
        deps.held_emails.unpark(job_id, key, recipients)
        queued += recipients
    return queued
