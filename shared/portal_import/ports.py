"""The ports: what the flows ask of the stores and senders around them, exactly the calls they make, and the
values those calls exchange. portal_import.aws implements each over AWS; unit tests pass plain fakes.

Each port is named for what a flow uses it as; its AWS adapter is named in its docstring.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from portal_import.domain.claims import ClaimRefused, Commit, EmailRecord
from portal_import.domain.delivery import DeliveryEvent, Recording
from portal_import.domain.ids import ContactRef
from portal_import.domain.job import Job, JobStatus
from portal_import.domain.messages import ChunkOutcomes
from portal_import.domain.people import Contact, CreateResult, Link, PoolAccount, PoolUser, PortalUser
from portal_import.domain.results import BinarySink

# A Mailer takes at most this many destinations a call: SES v1 SendBulkTemplatedEmail's limit (SESv2's
# SendBulkEmail is not on moto).
MAX_DESTINATIONS = 50


@dataclass(frozen=True)
class Reservation:
    slots: list[float]  # the epoch second at which each reserved send may go
    short_of: Literal["quota", "time"] | None = None  # why fewer were reserved than asked for


@dataclass(frozen=True)
class ImportObject:
    metadata: dict[str, str]
    content_length: int
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class Destination:
    address: str
    data: Mapping[str, str]  # the template's values for this recipient
    tags: Mapping[str, str] = field(default_factory=dict)  # on this recipient's delivery events (its contact)


# The job store (aws.jobs.Jobs, which implements each of the ports below) as each flow uses it: one port a role, so
# that a flow's deps say which of the job's records it reads or writes, and a test's fake holds only that role.


class JobReader(Protocol):
    """A job as it stands now (aws.jobs.Jobs)."""

    def get(self, job_id: str) -> Job | None: ...


class SplitProgress(Protocol):
    """A job while its file is read: created once per file version, its options, columns and Role snapshot, the
    split's checkpoints, and its end (the chunks sent, or the file refused) (aws.jobs.Jobs)."""

    def create(self, job: Job, *, source_version: str, source_version_id: str | None) -> bool: ...
    def set_options(self, job_id: str, *, mode: str, send_activation_email: bool) -> None: ...
    def set_columns(self, job_id: str, columns: Mapping[str, str]) -> None: ...
    def snapshot_roles(self, job_id: str, roles: Mapping[str, bool]) -> dict[str, bool]: ...
    def checkpoint_split(self, job_id: str, *, next_seq: int, rows: int) -> bool: ...
    def mark_split_handed_on(self, job_id: str, next_seq: int) -> None: ...
    def finish_split(self, job_id: str, *, total_rows: int, chunk_starts: list[int]) -> Job: ...
    def fail(self, job_id: str, error: str) -> Job: ...


class ChunkTally(Protocol):
    """Each chunk's rows counted towards its job's progress, once whatever the deliveries (aws.jobs.Jobs)."""

    def record_chunk(
        self, job_id: str, seq: int, *, rows: int, succeeded: int, failed: int, emails_queued: int
    ) -> Job: ...


class StalledJobs(Protocol):
    """The open jobs whose progress stopped, and the mark that gives one a new stall period (aws.jobs.Jobs)."""

    def open_jobs_idle_since(self, before: str) -> list[Job]: ...
    def touch(self, job_id: str) -> None: ...


class Channels(Protocol):
    """Which channel a finished job was told on, each marked once: ResultsRequestedAt (the aggregate queue),
    MessageSentAt (the topic), EventSentAt (EventBridge) (aws.jobs.Jobs)."""

    def mark_channel(self, job_id: str, attribute: str) -> None: ...


class Announcements(Protocol):
    """A job's completion: its time, the same on every attempt, and the announcement that closes it (aws.jobs.Jobs)."""

    def stamp_completion(self, job_id: str, at: str) -> str: ...
    def mark_notified(self, job_id: str, *, status: JobStatus, completed_at: str) -> Job: ...


class EmailsNotice(Protocol):
    """The claim that lets one step publish a job's emails-sent notice, given back when it fails (aws.jobs.Jobs)."""

    def claim_emails_notice(self, job_id: str) -> bool: ...
    def release_emails_notice(self, job_id: str) -> None: ...


class Jobs(JobReader, EmailsNotice, Protocol):
    """The job store as the email senders use it: the batch's job, and its emails-sent notice (aws.jobs.Jobs)."""


class Directory(Protocol):
    """The directory: Contacts, Roles and the portal user of each Contact, insert-only (aws.directory.Directory)."""

    def active_roles(self) -> dict[str, bool]: ...
    def resolve(self, refs: Iterable[ContactRef]) -> dict[str, Contact]: ...
    def contacts(self, contact_ids: Iterable[str]) -> dict[str, Contact]: ...
    def existing_users(self, contact_ids: Iterable[str]) -> dict[str, PortalUser]: ...
    def create_users(self, users: Sequence[PortalUser]) -> CreateResult: ...


class HeldEmails(Protocol):
    """The reputation guard's hold on a job's emails, and the batches kept while it lasts (aws.held_emails)."""

    def hold(self, job_id: str, *, at: str, why: str) -> bool: ...
    def claim_notice(self, job_id: str) -> bool: ...
    def release_notice(self, job_id: str) -> None: ...
    def park(self, job_id: str, batch_key: str, body: str, recipients: int) -> None: ...
    def release(self, job_id: str) -> None: ...
    def parked(self, job_id: str, batch_key: str) -> str | None: ...
    def unpark(self, job_id: str, batch_key: str, recipients: int) -> None: ...


class Deliveries(Protocol):
    """SES's events recorded on each User's latest email, with its job's counts (aws.deliveries.Deliveries)."""

    def record(self, event: DeliveryEvent) -> Recording: ...


class Ledger(Protocol):
    """The email ledger: who each email request reached, claimed before sending (aws.ledger.Ledger)."""

    def commit(
        self, step: Commit, *, job_id: str, request: str, attempt: str, lease_until: float, now: float
    ) -> dict[str, ClaimRefused]: ...
    def mark_undelivered(
        self, *, job_id: str, request: str, recipients: Sequence[tuple[str, str]], now: float
    ) -> int: ...
    def records(self, contact_ids: Iterable[str]) -> dict[str, EmailRecord]: ...
    def not_theirs(self, job_id: str, users: dict[str, str]) -> set[str]: ...


class Storage(Protocol):
    """The bucket: dropped files, each chunk's outcomes and the result files (aws.storage.Storage)."""

    def open_import(self, bucket: str, key: str, version_id: str | None) -> ImportObject: ...
    def head_import(self, bucket: str, key: str, version_id: str | None) -> tuple[dict[str, str], int]: ...
    def put_outcomes(self, chunk: ChunkOutcomes) -> None: ...
    def iter_outcomes(self, job_id: str) -> Iterator[ChunkOutcomes]: ...
    def open_result(self, key: str, content_type: str) -> AbstractContextManager[BinarySink]: ...
    def put_json(self, key: str, document: dict[str, Any]) -> None: ...
    def read(self, key: str) -> bytes: ...
    def presigned_url(self, key: str, expires_in: int) -> str: ...
    def uri(self, key: str) -> str: ...


class Queue(Protocol):
    """A queue messages are sent to (aws.queues.Queue)."""

    def send(self, body: str, *, delay_seconds: int = 0) -> None: ...
    def send_all(self, bodies: Iterable[str]) -> int: ...


class Mailer(Protocol):
    """Templated emails, up to MAX_DESTINATIONS a call (aws.mailer.Mailer)."""

    def daily_quota(self) -> int: ...
    def send_bulk(
        self,
        *,
        sender: str,
        template: str,
        defaults: Mapping[str, str],
        destinations: Sequence[Destination],
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> list[str]: ...


class Notifier(Protocol):
    """The administrators' topic and the automation's events (aws.notifier.Notifier)."""

    def publish_message(self, *, event: str, subject: str, message: str, detail: dict[str, Any]) -> None: ...
    def put_event(self, *, detail_type: str, detail: dict[str, Any]) -> None: ...


class UserPool(Protocol):
    """The user pool as the worker and the group pass fill it: the users, then each in its Role's group
    (aws.userpool.UserPool)."""

    def create_users(self, users: Sequence[PoolUser], *, deadline: float | None = None) -> None: ...
    def add_to_groups(self, memberships: Sequence[tuple[str, str]], *, deadline: float | None = None) -> int: ...


class Accounts(Protocol):
    """The user pool as the activation page uses it (aws.userpool.UserPool)."""

    def account(self, username: str) -> PoolAccount | None: ...
    def alias_owner(self, address: str) -> str | None: ...
    def set_password(self, username: str, password: str) -> None: ...
    def verify_email(self, username: str, address: str) -> bool: ...
    def join_group(self, username: str, role: str) -> None: ...


class Links(Protocol):
    """The activation links, found by their token's hash (and Contact), held while a password is set, and renewed
    by their user (aws.activations.Links)."""

    def find(self, token_hash: str, contact_id: str = "") -> Link | None: ...
    def hold(self, link: Link, token_hash: str, now: float) -> str | None: ...
    def release(self, link: Link, hold: str) -> None: ...
    def mark_activated(self, link: Link, hold: str, now: float) -> bool: ...
    def renew(self, link: Link, token_hash: str, now: float) -> bool: ...
    def unrenew(self, link: Link, now: float) -> None: ...
    def role_of(self, link: Link) -> str: ...


class EmailPace(Protocol):
    """The email senders' shared rate limit, within the day's quota (aws.ratelimit.EmailPace)."""

    def reserve(
        self, count: int, daily_quota: int, *, deadline: float | None = None, replacing: bool = False
    ) -> Reservation: ...


class Pace(Protocol):
    """Hands out the moments at which the next calls may be made (a shared limiter: aws.ratelimit.Pace)."""

    def reserve(self, count: int, *, deadline: float | None = None) -> Reservation: ...


class ConsoleJobs(JobReader, Protocol):
    """The jobs as the console reads them: one job, and every job's id (aws.jobs.Jobs)."""

    def job_ids(self, *, source_version_id: str | None = None) -> list[str]: ...


class Uploads(Protocol):
    """Presigned POSTs to the import bucket (aws.storage.Storage)."""

    def presigned_post(
        self, key: str, *, fields: Mapping[str, str], most_bytes: int, expires_in: int
    ) -> dict[str, Any]: ...
