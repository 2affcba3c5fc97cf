"""`portal-import resend`: new activation links for users a job created, through the same queue and rate limit.
The stack carries it out (the resend function): the administrator names the job and, at most, Contacts; which user
each one is, and the address and name, are the directory's, so no caller chooses a recipient.

By default each user the job created whose activation email never reached them (its batch dead-lettered, or
SES refused it) gets a new one; with `pending`, every user of the job who has not activated (a link that expired
or was never used, an email not delivered or never asked for); named Contacts get one whatever happened before. A
user who has activated is never sent a link. Each resend is a request of its own in the email ledger: a recipient
gets at most one email from it, and its link replaces every older one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from portal_import.domain.claims import EmailRecord
from portal_import.domain.ids import normalize_contact_id
from portal_import.domain.job import Job, why_no_users_yet
from portal_import.domain.messages import EmailRecipient, ResendRequest, email_batches
from portal_import.domain.results import NOT_REQUESTED, SuccessRow, read_success_rows, results_prefix
from portal_import.domain.rules import is_valid_email
from portal_import.domain.summary import SUCCESS_FILE
from portal_import.ports import Directory, JobReader, Ledger, Queue, Storage


class ResendRefused(Exception):
    """The job cannot be resent to as asked: one sentence that says why and what to do."""


@dataclass(frozen=True)
class LeftOut:
    contact_id: str  # as the administrator named it, or the success file's
    reason: str


@dataclass(frozen=True)
class Resend:
    request: str  # the ledger's name for this resend
    queued: list[str]  # the contact ids whose users are sent a new link
    left_out: list[LeftOut]

    def to_json(self) -> dict[str, Any]:
        """The resend function's answer (what `portal-import resend` prints)."""
        left_out = [{"contactId": left.contact_id, "reason": left.reason} for left in self.left_out]
        return {"request": self.request, "queued": self.queued, "leftOut": left_out}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Resend:
        left_out = [LeftOut(str(left["contactId"]), str(left["reason"])) for left in document["leftOut"]]
        return cls(request=str(document["request"]), queued=[str(c) for c in document["queued"]], left_out=left_out)


@dataclass(frozen=True)
class ResendDeps:
    directory: Directory
    ledger: Ledger
    storage: Storage
    email_queue: Queue
    job_reader: JobReader


def answer(document: Any, deps: ResendDeps) -> dict[str, Any]:
    """The resend function's answer to a request of `portal-import resend`: the Resend (to_json), or
    `{"refused": sentence}` when it cannot be carried out as asked. Whom to send to, and where, is decided here."""
    try:
        request = ResendRequest.model_validate(document)
    except ValidationError as error:
        fields = ", ".join(sorted({".".join(str(part) for part in e["loc"]) or "request" for e in error.errors()}))
        return {"refused": f"the resend request is not valid ({fields}): update portal-import and try again."}
    job = deps.job_reader.get(request.job_id)
    if job is None:
        return {
            "refused": f"there is no job {request.job_id} in this stack; `portal-import jobs` lists the recent ones."
        }
    try:
        return resend(job, deps, contacts=request.contacts, pending=request.pending).to_json()
    except ResendRefused as refused:
        return {"refused": str(refused)}


def resend_request_of(job_id: str) -> str:
    """A new resend's name: the job's, so that the ledger tells which job's requests reached a user."""
    return f"{job_id}/resend/{uuid.uuid4().hex[:12]}"


def success_rows_of(job: Job, storage: Storage) -> list[SuccessRow]:
    """The users a completed job created, as its success file lists them."""
    return read_success_rows(storage.read(results_prefix(job.job_id) + SUCCESS_FILE))


def is_request_of(request: str, job_id: str) -> bool:
    """Whether an email request of the ledger is the job's: its import, one of its resends, or a renewal."""
    return request == job_id or request.startswith((f"{job_id}/resend/", f"{job_id}/renew/"))


def resend(
    job: Job, deps: ResendDeps, *, contacts: Sequence[str] = (), pending: bool = False, now: float | None = None
) -> Resend:
    """Queues new activation emails for the job's users: all not yet reached, all not yet activated (`pending`),
    or the named Contacts'."""
    if contacts and pending:
        raise ResendRefused(
            "resend takes --pending or --contact, not both: --pending already sends to every user not activated."
        )
    refusal = why_no_users_yet(job, "resend") or ("" if contacts else _still_sending(job, pending=pending))
    if refusal:
        raise ResendRefused(refusal)
    created = success_rows_of(job, deps.storage)
    by_contact = {row.contact_id: row for row in created}
    left_out: list[LeftOut] = []
    targets = _named(contacts, by_contact, deps.directory, left_out) if contacts else list(created)
    records = deps.ledger.records(row.contact_id for row in targets)
    people = deps.directory.contacts(row.contact_id for row in targets)
    moment = time.time() if now is None else now
    queued: list[EmailRecipient] = []
    for row in targets:
        record = records.get(row.contact_id, EmailRecord())
        person = people.get(row.contact_id)
        email = person.email if person else ""
        why = _why_not(row, record, email, job.job_id, unreached_only=not (contacts or pending), now=moment)
        if why:
            left_out.append(LeftOut(row.contact_id, why))
        elif person is not None:
            queued.append(person.recipient(row.row, row.user_id))
    request = resend_request_of(job.job_id)
    deps.email_queue.send_all(batch.to_json() for batch in email_batches(request, job.job_id, queued, request))
    return Resend(request=request, queued=[r.contact_id for r in queued], left_out=left_out)


def _still_sending(job: Job, *, pending: bool) -> str:
    """Why a resend to everyone of a kind must wait while the import's own emails are going out ("" when it need
    not): a user whose email is still queued would otherwise be sent two links at once, the first dead on arrival."""
    done = job.emails_done
    if job.emails_queued <= done:
        return ""
    which = "--pending" if pending else "the ones not delivered"
    return (
        f"job {job.job_id} is still sending its activation emails ({done} of {job.emails_queued} done); "
        f"resend {which} once they are (`portal-import watch {job.job_id}`), or name Contacts with --contact."
    )


def _named(
    contacts: Sequence[str], by_contact: dict[str, SuccessRow], directory: Directory, left_out: list[LeftOut]
) -> list[SuccessRow]:
    """The success rows of the named Contacts (any ID form); the others are left out with the reason."""
    refs = {given: normalize_contact_id(given.strip()) for given in dict.fromkeys(contacts)}
    aliases = directory.resolve(ref for ref in refs.values() if ref.kind == "salesforce")
    targets: dict[str, SuccessRow] = {}
    for given, ref in refs.items():
        contact_id = ref.key if ref.kind == "contact" else aliases[ref.key].contact_id if ref.key in aliases else ""
        if not contact_id:
            left_out.append(LeftOut(given, "no such Contact in the directory"))
        elif contact_id not in by_contact:
            left_out.append(LeftOut(given, "this job created no portal user for this Contact"))
        else:
            targets.setdefault(contact_id, by_contact[contact_id])
    return list(targets.values())


def _why_not(row: SuccessRow, record: EmailRecord, email: str, job_id: str, *, unreached_only: bool, now: float) -> str:
    """Why the user is left out ("" when they are sent a link). Whoever was asked for, a user who activated, has no
    valid address or is being sent a link right now is left out; the default resend (`unreached_only`) also leaves
    out those the job already reached or never meant to email."""
    if record.activated:
        return "has already activated their account"
    if not is_valid_email(email):
        return "the Contact has no valid email address"
    if record.claim_expires is not None and record.claim_expires >= now:
        return "an activation email to them is being sent right now"
    blocked = record.blocked_address()
    if blocked is not None and blocked.casefold() == email.casefold():
        return (
            f"their address {record.delivery.state} ({record.delivery.detail}) on {record.delivery.at[:10]}: "
            "correct the Contact's email address, then resend"
        )
    if not unreached_only:
        return ""
    if row.activation_email == NOT_REQUESTED:
        return "the import did not ask for activation emails (--pending or --contact sends one)"
    if any(is_request_of(request, job_id) for request in record.sent_for):
        return "was sent an activation email already (--pending or --contact sends a new link)"
    return ""
