"""`portal-import users JOB`: each user a job created, where its activation email stands and whether it activated.

Read from the job's success file and the email ledger (the User's activation item, with the settlement of the
sender that holds it): nothing is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from portal_import.domain.claims import EmailRecord
from portal_import.domain.job import Job, why_no_users_yet
from portal_import.domain.messages import EmailBatch
from portal_import.domain.results import NO_VALID_EMAIL, NOT_REQUESTED
from portal_import.flows.resend import is_request_of, success_rows_of
from portal_import.ports import HeldEmails, Ledger, Storage

EMAIL_SENT = "sent"
EMAIL_NOT_DELIVERED = "not delivered"
EMAIL_NO_VALID_EMAIL = "no valid email"
EMAIL_NOT_REQUESTED = "not requested"
EMAIL_QUEUED = "queued"  # requested, neither sent nor given up on yet
EMAIL_HELD = "held"  # kept back by the reputation guard until `resume-emails`

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
    delivery: str | None = None  # what became of the latest email SES accepted (docs/contracts.md §7)
    delivery_detail: str | None = None  # why, for a bounce, complaint or delay
    renewals: int = 0  # new links the user asked for from their activation page (docs/contracts.md §6)


def job_users(
    job: Job, storage: Storage, ledger: Ledger, *, held_emails: HeldEmails | None = None, now: float | None = None
) -> list[JobUser]:
    """The users `job` created, by row, each with its email's and its activation's standing."""
    refusal = why_no_users_yet(job, "users")
    if refusal:
        raise UsersRefused(refusal)
    rows = success_rows_of(job, storage)
    records = ledger.records(row.contact_id for row in rows)
    held = held_contacts(job, held_emails) if held_emails is not None else set()
    moment = time.time() if now is None else now
    users = []
    for row in rows:
        record = records.get(row.contact_id, EmailRecord())
        delivery, detail = record.latest_delivery()
        users.append(
            JobUser(
                row=row.row,
                contact_id=row.contact_id,
                user_id=row.user_id,
                role=row.role,
                email=EMAIL_HELD
                if row.contact_id in held and not record.sent_for
                else email_standing(row.activation_email, record, job.job_id),
                activation=activation_standing(record, moment),
                delivery=delivery,
                delivery_detail=detail,
                renewals=record.renewals,
            )
        )
    return users


def held_contacts(job: Job, held_emails: HeldEmails) -> set[str]:
    """The Contacts in the email batches the reputation guard keeps for the job."""
    bodies = (held_emails.parked(job.job_id, key) for key in job.parked)
    return {r.contact_id for body in bodies if body for r in EmailBatch.model_validate_json(body).recipients}


def email_standing(activation_email: str, record: EmailRecord, job_id: str) -> str:
    """Where the job's activation emails to a user stand (a resend's included): sent wins over not delivered."""
    if activation_email == NO_VALID_EMAIL:
        return EMAIL_NO_VALID_EMAIL
    if any(is_request_of(request, job_id) for request in record.sent_for):
        return EMAIL_SENT
    if any(is_request_of(request, job_id) for request in record.undelivered_for):
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
