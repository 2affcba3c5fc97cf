"""The messages functions pass each other (row chunks, outcomes, emails, aggregate requests), defined once."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from portal_import.domain.packing import packed

Mode = Literal["import", "validate"]


class _Message(BaseModel):
    # A message that fails validation is reported without its values: they hold email addresses and names.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, hide_input_in_errors=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


class ChunkRow(_Message):
    """One data record as read from the file; `error` is set when rules 1-4 already failed it."""

    row: int
    contact_id: str
    role: str
    error: str | None = None


class RowChunk(_Message):
    """Consecutive rows of one job: the unit of work of the worker and of the result files."""

    job_id: str
    seq: int = Field(ge=0)
    mode: Mode
    send_activation_email: bool
    rows: list[ChunkRow]


class Outcome(_Message):
    """Where one row ended up. Failures keep the input values so the failure file can be re-imported."""

    row: int
    input_contact_id: str
    input_role: str
    contact_id: str = ""
    role: str = ""
    user_id: str = ""
    activation_email: str = ""
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None


class ChunkOutcomes(_Message):
    job_id: str
    seq: int
    outcomes: list[Outcome]


class EmailRecipient(_Message):
    """Whom an activation email is for, as a reference only: the sender reads the address and the name from the
    directory itself, and sends only where the Contact's portal user is `user_id`, created by the batch's job
    (docs/contracts.md §6, who may do what). Anything else a message carries (an address, a name) is ignored."""

    row: int
    user_id: str
    contact_id: str


class EmailBatch(_Message):
    """Activation emails for users of one job; `key` identifies the batch across redeliveries.

    `request` names what the emails are for: absent for the import's own emails (a chunk's users), the id of a
    `portal-import resend` otherwise. A recipient gets at most one email per request (the email ledger)."""

    key: str
    job_id: str
    request: str | None = None
    recipients: list[EmailRecipient]

    @property
    def request_id(self) -> str:
        return self.request or self.job_id


# Emails travel as few messages as fit (fewer messages, fewer sender invocations and requests per email), split
# by count and by SQS's 256 KiB message limit.
EMAILS_PER_MESSAGE = 1000
EMAIL_MESSAGE_BYTES = 200_000


def renewal_request_of(job_id: str) -> str:
    """The email request of a new link a user of the job asked for from their activation page (docs/contracts.md
    §6): one of its own, so that the ledger sends it once and tells it from the import's and the resends'."""
    return f"{job_id}/renew/{uuid.uuid4().hex[:12]}"


def is_renewal(request: str) -> bool:
    """Whether an email request of the ledger is a new link its user asked for."""
    return "/renew/" in request


def email_batches(
    key: str, job_id: str, recipients: list[EmailRecipient], request: str | None = None
) -> list[EmailBatch]:
    """The recipients as batches keyed `key#0`, `key#1`, ..., each one SQS message."""
    groups = packed(
        recipients,
        max_items=EMAILS_PER_MESSAGE,
        max_bytes=EMAIL_MESSAGE_BYTES,
        size=lambda recipient: len(recipient.to_json().encode()) + 1,
    )
    return [
        EmailBatch(key=f"{key}#{number}", job_id=job_id, request=request, recipients=group)
        for number, group in enumerate(groups)
    ]


class Membership(_Message):
    """A pool user and the Role whose group it goes in."""

    user_id: str
    role: str


# A group request is one second of UserUpdate's default rate (25 calls a second): the group pass, taking one at a
# time, never books that limiter far ahead of a person activating.
GROUP_REQUEST_USERS = 25


class GroupRequest(_Message):
    """Users of a job that the group pass puts in their Roles' groups (docs/contracts.md §6)."""

    job_id: str
    members: list[Membership] = Field(min_length=1, max_length=GROUP_REQUEST_USERS)


def group_requests(job_id: str, members: list[Membership]) -> list[GroupRequest]:
    """The group requests of `members`, GROUP_REQUEST_USERS at most in each."""
    return [
        GroupRequest(job_id=job_id, members=members[start : start + GROUP_REQUEST_USERS])
        for start in range(0, len(members), GROUP_REQUEST_USERS)
    ]


class AggregateRequest(_Message):
    job_id: str


class SplitContinuation(_Message):
    """Go on splitting a job's file from chunk `next_seq`: the invocation before ran short of time there."""

    job_id: str
    bucket: str
    key: str
    version: str
    version_id: str | None = None
    event_time: str
    size: int = Field(ge=0)
    next_seq: int = Field(ge=0)  # the job's checkpoint when this was sent


class ResendRequest(_Message):
    """What `portal-import resend` asks of the stack's resend function: the job, and whom (every user not reached,
    every user not activated with `pending`, or the named Contacts). Never an address, a user or a name: the stack
    reads those itself (docs/contracts.md §6, who may do what)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern=r"^[0-9A-Za-z-]{1,64}$")
    contacts: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=10_000)
    pending: bool = False
