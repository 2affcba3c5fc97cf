"""`portal-import users JOB`: each user a job created, where its activation email stands and whether it activated.

Read from the job's success file and the email ledger (the User's activation item, with the settlement of the
sender that holds it): nothing is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from portal_import.aws.ledger import EmailLedger, EmailRecord
from portal_import.aws.storage import Storage, results_prefix
from portal_import.job import Job, why_no_users_yet
from portal_import.results import NO_VALID_EMAIL, NOT_REQUESTED, read_success_rows

EMAIL_SENT = "sent"
EMAIL_NOT_DELIVERED = "not delivered"
EMAIL_NO_VALID_EMAIL = "no valid email"
EMAIL_NOT_REQUESTED = "not requested"
EMAIL_QUEUED = "queued"  # requested, neither sent nor given up on yet

ACTIVATED = "activated"
PENDING = "pending"
EXPIRED = "expired"  # its latest link expired before it was used: `resend` sends a new one


class UsersRefused(Exception):
    """The job's users cannot be listed: one sentence that says why."""


@dataclass(frozen=True)
class JobUser:
    row: int
    contact_id: str
    user_id: str
    role: str
    email: str
    activation: str


def job_users(job: Job, storage: Storage, ledger: EmailLedger, *, now: float | None = None) -> list[JobUser]:
    """The users `job` created, by row, each with its email's and its activation's standing."""
    refusal = why_no_users_yet(job, "users")
    if refusal:
        raise UsersRefused(refusal)
    rows = read_success_rows(storage.read(results_prefix(job.job_id) + "success.csv"))
    records = ledger.records(row.contact_id for row in rows)
    moment = time.time() if now is None else now
    return [
        JobUser(
            row=row.row,
            contact_id=row.contact_id,
            user_id=row.user_id,
            role=row.role,
            email=email_standing(row.activation_email, records.get(row.contact_id, EmailRecord()), job.job_id),
            activation=activation_standing(records.get(row.contact_id, EmailRecord()), moment),
        )
        for row in rows
    ]


def _of_job(request: str, job_id: str) -> bool:
    return request == job_id or request.startswith(f"{job_id}/resend/")


def email_standing(activation_email: str, record: EmailRecord, job_id: str) -> str:
    """Where the job's activation emails to a user stand (a resend's included): sent wins over not delivered."""
    if activation_email == NO_VALID_EMAIL:
        return EMAIL_NO_VALID_EMAIL
    if any(_of_job(request, job_id) for request in record.sent_for):
        return EMAIL_SENT
    if any(_of_job(request, job_id) for request in record.undelivered_for):
        return EMAIL_NOT_DELIVERED
    if activation_email == NOT_REQUESTED:
        return EMAIL_NOT_REQUESTED
    return EMAIL_QUEUED


def activation_standing(record: EmailRecord, now: float) -> str:
    if record.activated:
        return ACTIVATED
    if record.link_expires is not None and record.link_expires < now:
        return EXPIRED
    return PENDING
