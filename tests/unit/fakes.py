"""One in-memory fake per port of portal_import.ports, named as the port (and its adapter) is, shared by the unit tests.

Each implements its port in full (mypy checks it against the Protocol below the fakes) and keeps the adapter's
contract in memory: what a write changes, what a conditional write refuses. The job store's role ports are views
of one JobTable, so a flow given several of them sees its own writes. A test that needs a fault subclasses a fake.
"""

from __future__ import annotations

import copy
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from portal_import import ports
from portal_import.domain.activation import RENEWAL_SECONDS
from portal_import.domain.claims import ClaimRefused, Commit, EmailRecord, Settlement
from portal_import.domain.delivery import Recorded
from portal_import.domain.ids import ContactRef
from portal_import.domain.job import Job, JobStatus
from portal_import.domain.messages import ChunkOutcomes
from portal_import.domain.people import Contact, CreateResult, Link, PoolAccount, PoolUser, PortalUser
from portal_import.domain.times import now_iso
from portal_import.errors import OutOfPace
from portal_import.ports import Destination, ImportObject, Reservation

# The job store


@dataclass
class JobTable:
    """The jobs table in memory: every fake of the job store's ports reads and writes one of these."""

    jobs: dict[str, Job] = field(default_factory=dict)

    def put(self, *jobs: Job) -> JobTable:
        for job in jobs:
            self.jobs[job.job_id] = copy.deepcopy(job)
        return self

    def __getitem__(self, job_id: str) -> Job:
        """The job as it stands (a copy: changing it changes nothing stored)."""
        return copy.deepcopy(self.jobs[job_id])

    def change(self, job_id: str, **changes: Any) -> Job:
        if job_id not in self.jobs:
            raise LookupError(f"job {job_id} does not exist")
        self.jobs[job_id] = replace(self.jobs[job_id], **changes)
        return self[job_id]


@dataclass
class JobReader:
    table: JobTable = field(default_factory=JobTable)

    def get(self, job_id: str) -> Job | None:
        return self.table[job_id] if job_id in self.table.jobs else None


@dataclass
class SplitProgress:
    table: JobTable = field(default_factory=JobTable)

    def create(self, job: Job, *, source_version: str, source_version_id: str | None) -> bool:
        if job.job_id in self.table.jobs:
            return False
        self.table.put(replace(job, source_version_id=source_version_id, updated_at=job.started_at))
        return True

    def set_options(self, job_id: str, *, mode: str, send_activation_email: bool) -> None:
        self.table.change(job_id, mode=mode, send_activation_email=send_activation_email)

    def set_columns(self, job_id: str, columns: Mapping[str, str]) -> None:
        self.table.change(job_id, columns=dict(columns))

    def snapshot_roles(self, job_id: str, roles: Mapping[str, bool]) -> dict[str, bool]:
        kept = self.table[job_id].roles
        return self.table.change(job_id, roles=dict(roles) if kept is None else kept).roles or {}

    def checkpoint_split(self, job_id: str, *, next_seq: int, rows: int) -> bool:
        job = self.table[job_id]
        if job.status is not JobStatus.SPLITTING or job.split_next_seq >= next_seq:
            return False
        self.table.change(job_id, split_next_seq=next_seq, split_rows=rows, split_handed_on=False, updated_at=now_iso())
        return True

    def mark_split_handed_on(self, job_id: str, next_seq: int) -> None:
        if self.table[job_id].split_next_seq == next_seq:
            self.table.change(job_id, split_handed_on=True)

    def finish_split(self, job_id: str, *, total_rows: int, chunk_starts: list[int]) -> Job:
        if self.table[job_id].status is not JobStatus.SPLITTING:
            return self.table[job_id]
        return self.table.change(
            job_id,
            total_rows=total_rows,
            chunk_count=len(chunk_starts),
            chunk_starts=list(chunk_starts),
            status=JobStatus.PROCESSING,
            updated_at=now_iso(),
        )

    def fail(self, job_id: str, error: str) -> Job:
        return self.table.change(job_id, status=JobStatus.FAILED, error=error)


@dataclass
class ChunkTally:
    table: JobTable = field(default_factory=JobTable)

    def record_chunk(self, job_id: str, seq: int, *, rows: int, succeeded: int, failed: int, emails_queued: int) -> Job:
        job = self.table[job_id]
        if seq in job.chunks_done:  # counted once, whatever the deliveries
            return job
        return self.table.change(
            job_id,
            chunks_done=job.chunks_done | {seq},
            rows_done=job.rows_done + rows,
            succeeded=job.succeeded + succeeded,
            failed=job.failed + failed,
            emails_queued=job.emails_queued + emails_queued,
            updated_at=now_iso(),
        )


@dataclass
class StalledJobs:
    table: JobTable = field(default_factory=JobTable)

    def open_jobs_idle_since(self, before: str) -> list[Job]:
        return [
            self.table[job.job_id]
            for job in self.table.jobs.values()
            if job.notified_at is None and job.updated_at < before
        ]

    def touch(self, job_id: str) -> None:
        self.table.change(job_id, updated_at=now_iso())


_CHANNELS = {
    "ResultsRequestedAt": "results_requested_at",
    "MessageSentAt": "message_sent_at",
    "EventSentAt": "event_sent_at",
}


@dataclass
class Channels:
    table: JobTable = field(default_factory=JobTable)
    marked: list[tuple[str, str]] = field(default_factory=list)  # (job id, attribute), in the order marked

    def mark_channel(self, job_id: str, attribute: str) -> None:
        self.marked.append((job_id, attribute))
        if job_id in self.table.jobs:
            self.table.change(job_id, **{_CHANNELS[attribute]: now_iso()})


@dataclass
class Announcements:
    table: JobTable = field(default_factory=JobTable)

    def stamp_completion(self, job_id: str, at: str) -> str:
        return self.table.change(job_id, completed_at=self.table[job_id].completed_at or at).completed_at or at

    def mark_notified(self, job_id: str, *, status: JobStatus, completed_at: str) -> Job:
        return self.table.change(
            job_id, status=status, completed_at=completed_at, notified_at=completed_at, updated_at=completed_at
        )


@dataclass
class EmailsNotice:
    table: JobTable = field(default_factory=JobTable)
    releases: int = 0

    def claim_emails_notice(self, job_id: str) -> bool:
        if job_id not in self.table.jobs or self.table[job_id].emails_notified_at is not None:
            return False
        self.table.change(job_id, emails_notified_at=now_iso())
        return True

    def release_emails_notice(self, job_id: str) -> None:
        self.releases += 1
        self.table.change(job_id, emails_notified_at=None)


@dataclass
class Jobs(JobReader, EmailsNotice):
    """The job store as the email senders use it."""


@dataclass
class ConsoleJobs(JobReader):
    """The job store as the console reads it: one job, and every job's id."""

    def job_ids(self, *, source_version_id: str | None = None) -> list[str]:
        return [j.job_id for j in self.table.jobs.values() if source_version_id in (None, j.source_version_id)]


@dataclass
class Uploads:
    """Presigned POSTs as S3 builds them: the key and fields as given, with the policy's conditions kept here."""

    forms: list[dict[str, Any]] = field(default_factory=list)

    def presigned_post(
        self, key: str, *, fields: Mapping[str, str], most_bytes: int, expires_in: int
    ) -> dict[str, Any]:
        self.forms.append({"key": key, "fields": dict(fields), "mostBytes": most_bytes, "expiresIn": expires_in})
        return {"url": "https://imports.example/", "fields": {"key": key, **fields, "policy": "signed"}}


@dataclass
class HeldEmails:
    """The reputation guard's hold on the jobs of a JobTable, and the batches kept while it lasts."""

    table: JobTable = field(default_factory=JobTable)
    batches: dict[tuple[str, str], str] = field(default_factory=dict)  # (job, batch key) -> the batch's JSON

    def hold(self, job_id: str, *, at: str, why: str) -> bool:
        if self.table[job_id].emails_held_at is not None:
            return False
        self.table.change(job_id, emails_held_at=at, emails_held_why=why)
        return True

    def claim_notice(self, job_id: str) -> bool:
        job = self.table[job_id]
        if job.emails_held_at is None or job.emails_held_notified_at is not None:
            return False
        self.table.change(job_id, emails_held_notified_at=job.emails_held_at)
        return True

    def release_notice(self, job_id: str) -> None:
        self.table.change(job_id, emails_held_notified_at=None)

    def park(self, job_id: str, batch_key: str, body: str, recipients: int) -> None:
        if (job_id, batch_key) in self.batches:
            return
        self.batches[job_id, batch_key] = body
        job = self.table[job_id]
        self.table.change(job_id, emails_held=job.emails_held + recipients, parked=[*job.parked, batch_key])

    def release(self, job_id: str) -> None:
        job = self.table[job_id]
        self.table.change(
            job_id, emails_held_at=None, emails_held_why=None, emails_held_notified_at=None, guard_base=job.guard
        )

    def parked(self, job_id: str, batch_key: str) -> str | None:
        return self.batches.get((job_id, batch_key))

    def unpark(self, job_id: str, batch_key: str, recipients: int) -> None:
        if self.batches.pop((job_id, batch_key), None) is not None:
            job = self.table[job_id]
            parked = [key for key in job.parked if key != batch_key]
            self.table.change(job_id, emails_held=job.emails_held - recipients, parked=parked)


# The directory and the email ledger


@dataclass
class Directory:
    people: dict[str, Contact] = field(default_factory=dict)  # by contact id
    roles: dict[str, bool] = field(default_factory=dict)  # every Role by name, with its active flag
    users: dict[str, PortalUser] = field(default_factory=dict)  # by contact id

    def with_contacts(self, *contacts: Contact) -> Directory:
        self.people.update((contact.contact_id, contact) for contact in contacts)
        return self

    def active_roles(self) -> dict[str, bool]:
        return dict(self.roles)

    def resolve(self, refs: Iterable[ContactRef]) -> dict[str, Contact]:
        by_alias = {c.salesforce_id: c for c in self.people.values() if c.salesforce_id}
        resolved: dict[str, Contact] = {}
        for ref in refs:
            contact = by_alias.get(ref.key) if ref.kind == "salesforce" else self.people.get(ref.key)
            if ref.kind != "invalid" and contact is not None:
                resolved[ref.key] = contact
        return resolved

    def contacts(self, contact_ids: Iterable[str]) -> dict[str, Contact]:
        return {c: self.people[c] for c in set(contact_ids) if c in self.people}

    def existing_users(self, contact_ids: Iterable[str]) -> dict[str, PortalUser]:
        return {c: self.users[c] for c in set(contact_ids) if c in self.users}

    def create_users(self, users: Sequence[PortalUser]) -> CreateResult:
        existing = {user.contact_id: self.users[user.contact_id] for user in users if user.contact_id in self.users}
        created = [user for user in users if user.contact_id not in existing]
        self.users.update((user.contact_id, user) for user in created)
        return CreateResult(created=created, existing=existing)


@dataclass
class Ledger:
    """Claims held until settled or until their lease ends; each request reaches a recipient once."""

    # contact id -> (its portal user, the job that created it): who each claim may be for
    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    claims: dict[str, tuple[str, float]] = field(default_factory=dict)  # contact id -> (attempt, lease end)
    settled: dict[tuple[str, str], Settlement] = field(default_factory=dict)  # (request, contact id) -> how
    tokens: dict[str, str] = field(default_factory=dict)  # contact id -> its current link's hash
    link_expires: dict[str, float] = field(default_factory=dict)  # contact id -> epoch seconds
    activated: set[str] = field(default_factory=set)  # contact ids whose user activated
    sent_to: dict[str, str] = field(default_factory=dict)  # contact id -> the address its current link went to
    sent: int = 0  # recipients settled as sent
    failed: int = 0  # recipients settled or marked as not delivered
    deliveries: dict[str, Recorded] = field(default_factory=dict)  # contact id -> its latest email's outcome

    def commit(
        self, step: Commit, *, job_id: str, request: str, attempt: str, lease_until: float, now: float
    ) -> dict[str, ClaimRefused]:
        for contact_id, how in step.settled.items():
            if self.claims.get(contact_id, ("", 0.0))[0] == attempt:
                del self.claims[contact_id]
                if how is not Settlement.RELEASED:
                    self.settled[request, contact_id] = how
                    self.sent += how is Settlement.SENT
                    self.failed += how is Settlement.UNDELIVERED
        refused: dict[str, ClaimRefused] = {}
        for link in step.claims:
            holder = self.claims.get(link.contact_id)
            if link.contact_id in self.activated:
                refused[link.contact_id] = ClaimRefused.ACTIVATED
            elif self.users.get(link.contact_id) != (link.user_id, job_id):
                refused[link.contact_id] = ClaimRefused.NOT_THEIRS
            elif (request, link.contact_id) in self.settled:
                refused[link.contact_id] = ClaimRefused.DONE
            elif holder and holder[0] != attempt and holder[1] >= now:
                refused[link.contact_id] = ClaimRefused.BUSY
            else:
                self.claims[link.contact_id] = (attempt, lease_until)
                self.tokens[link.contact_id] = link.token_hash
                self.sent_to[link.contact_id] = link.sent_to
        return refused

    def mark_undelivered(self, *, job_id: str, request: str, recipients: Sequence[tuple[str, str]], now: float) -> int:
        counted = [c for c, _ in recipients if (request, c) not in self.settled]
        self.settled.update(((request, c), Settlement.UNDELIVERED) for c in counted)
        self.failed += len(counted)
        return len(counted)

    def records(self, contact_ids: Iterable[str]) -> dict[str, EmailRecord]:
        return {c: self._record(c) for c in set(contact_ids) if c in self.users}

    def _record(self, contact_id: str) -> EmailRecord:
        def requests(how: Settlement) -> frozenset[str]:
            return frozenset(r for (r, c), settled in self.settled.items() if c == contact_id and settled is how)

        claim = self.claims.get(contact_id)
        return EmailRecord(
            sent_for=requests(Settlement.SENT),
            undelivered_for=requests(Settlement.UNDELIVERED),
            claim_expires=claim[1] if claim else None,
            activated=contact_id in self.activated,
            link_expires=self.link_expires.get(contact_id),
            holder=claim[0] if claim else None,
            delivery=self.deliveries.get(contact_id, Recorded()),
        )

    def not_theirs(self, job_id: str, users: dict[str, str]) -> set[str]:
        return {c for c, user in users.items() if self.users.get(c) != (user, job_id)}


# The bucket, the queues, the senders


@dataclass
class Storage:
    imports: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)  # dropped files by key
    objects: dict[str, bytes] = field(default_factory=dict)  # result files by key
    outcomes: dict[tuple[str, int], ChunkOutcomes] = field(default_factory=dict)  # by (job id, seq)

    def drop(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> Storage:
        self.imports[key] = (data, dict(metadata or {}))
        return self

    def open_import(self, bucket: str, key: str, version_id: str | None) -> ImportObject:
        data, metadata = self.imports[key]
        return ImportObject(metadata=dict(metadata), content_length=len(data), chunks=iter([data]))

    def head_import(self, bucket: str, key: str, version_id: str | None) -> tuple[dict[str, str], int]:
        data, metadata = self.imports[key]
        return dict(metadata), len(data)

    def put_outcomes(self, chunk: ChunkOutcomes) -> None:
        self.outcomes[chunk.job_id, chunk.seq] = chunk

    def iter_outcomes(self, job_id: str) -> Iterator[ChunkOutcomes]:
        yield from (self.outcomes[key] for key in sorted(self.outcomes) if key[0] == job_id)

    @contextmanager
    def open_result(self, key: str, content_type: str) -> Iterator[io.BytesIO]:
        buffer = io.BytesIO()
        yield buffer
        self.objects[key] = buffer.getvalue()

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        self.objects[key] = json.dumps(document).encode()

    def read(self, key: str) -> bytes:
        return self.objects[key]

    def presigned_url(self, key: str, expires_in: int) -> str:
        return f"https://results.example/{key}?expires={expires_in}"

    def uri(self, key: str) -> str:
        return f"s3://results/{key}"


@dataclass
class Queue:
    bodies: list[str] = field(default_factory=list)
    delays: list[int] = field(default_factory=list)  # each body's delay, in the same order

    def send(self, body: str, *, delay_seconds: int = 0) -> None:
        self.bodies.append(body)
        self.delays.append(delay_seconds)

    def send_all(self, bodies: Iterable[str]) -> int:
        sent = list(bodies)
        for body in sent:
            self.send(body)
        return len(sent)


@dataclass
class Mailer:
    """SES as the senders call it: each call recorded with its time on the given clock, answered Success for each
    destination unless told otherwise (`refuse`); `on_call` runs as a call arrives, before SES answers it: a test
    raises SES's errors from it, or lets time pass. A call that raised is neither recorded nor sent."""

    quota: int = 50_000
    refuse: dict[str, str] = field(default_factory=dict)  # address -> the SES status it answers instead of Success
    sent: list[Destination] = field(default_factory=list)  # the destinations it did not refuse
    clock: Callable[[], float] = time.time
    calls: list[tuple[float, list[Destination]]] = field(default_factory=list)  # (when, destinations) a call
    on_call: Callable[[Sequence[Destination]], None] | None = None
    tagged: list[tuple[str | None, dict[str, str]]] = field(default_factory=list)  # (configuration set, tags) a call

    def daily_quota(self) -> int:
        return self.quota

    def send_bulk(
        self,
        *,
        sender: str,
        template: str,
        defaults: Mapping[str, str],
        destinations: Sequence[Destination],
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> list[str]:
        self.tagged.append((configuration_set, dict(tags or {})))
        if len(destinations) > ports.MAX_DESTINATIONS:
            raise ValueError(f"{len(destinations)} destinations in one call: at most {ports.MAX_DESTINATIONS}")
        at = self.clock()
        if self.on_call is not None:
            self.on_call(destinations)
        self.calls.append((at, list(destinations)))
        self.sent += [d for d in destinations if d.address not in self.refuse]
        return [self.refuse.get(d.address, "Success") for d in destinations]


@dataclass
class Notifier:
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def publish_message(self, *, event: str, subject: str, message: str, detail: dict[str, Any]) -> None:
        self.messages.append({"event": event, "subject": subject, "message": message, "detail": detail})

    def put_event(self, *, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append({"detail_type": detail_type, "detail": detail})


# The user pool and the activation links


@dataclass
class UserPool:
    users: dict[str, PoolUser] = field(default_factory=dict)  # by username
    groups: dict[str, str] = field(default_factory=dict)  # username -> the group it is in
    deadlines: list[float | None] = field(default_factory=list)  # the deadline of each call

    def create_users(self, users: Sequence[PoolUser], *, deadline: float | None = None) -> None:
        self.deadlines.append(deadline)
        self.users.update((user.user_id, user) for user in users)

    def add_to_groups(self, memberships: Sequence[tuple[str, str]], *, deadline: float | None = None) -> int:
        self.deadlines.append(deadline)
        placed = [(username, role) for username, role in memberships if username in self.users]
        self.groups.update(placed)
        return len(placed)


@dataclass
class Accounts:
    accounts: dict[str, PoolAccount] = field(default_factory=dict)  # by username
    passwords: dict[str, str] = field(default_factory=dict)  # username -> the password set
    verified: list[tuple[str, str]] = field(default_factory=list)  # (username, address)
    groups: dict[str, str] = field(default_factory=dict)  # username -> the group it joined
    busy: bool = False  # every call answers as a pool whose quota is used up (OutOfPace)

    def _call(self) -> None:
        if self.busy:
            raise OutOfPace("no slot is free before the deadline")

    def join_group(self, username: str, role: str) -> None:
        self._call()
        self.groups[username] = role

    def account(self, username: str) -> PoolAccount | None:
        self._call()
        return self.accounts.get(username)

    def set_password(self, username: str, password: str) -> None:
        self._call()
        self.passwords[username] = password
        self.accounts[username] = replace(self.accounts[username], status="CONFIRMED")

    def alias_owner(self, address: str) -> str | None:
        """Cognito's email alias: the user whose verified email the address is, ignoring letter case."""
        owners = [user for user, verified in self.verified if verified.casefold() == address.casefold()]
        return owners[-1] if owners else None

    def verify_email(self, username: str, address: str) -> bool:
        owner = self.alias_owner(address)
        if owner is not None and owner != username:
            return False  # AliasExistsException: another user signs in with the address
        self.verified.append((username, address))
        return True


@dataclass
class Links:
    links: dict[str, Link] = field(default_factory=dict)  # by token hash
    holds: dict[str, str] = field(default_factory=dict)  # contact id -> the hold on its link now
    taken: list[str] = field(default_factory=list)  # every hold handed out, in order
    released: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)  # the holds under which a link was used
    renewed: dict[str, float] = field(default_factory=dict)  # contact id -> when its user last asked for a new link
    renewals: list[str] = field(default_factory=list)  # the contact ids whose user asked, in order (given back: gone)
    roles: dict[str, str] = field(default_factory=dict)  # contact id -> the Role of its user (the USER item's)

    def role_of(self, link: Link) -> str:
        return self.roles.get(link.contact_id, "")

    def find(self, token_hash: str, contact_id: str = "") -> Link | None:
        link = self.links.get(token_hash)
        return None if link is None else replace(link, renewed_at=self.renewed.get(link.contact_id))

    def renew(self, link: Link, token_hash: str, now: float) -> bool:
        last = self.renewed.get(link.contact_id)
        if last is not None and last > now - RENEWAL_SECONDS:
            return False
        self.renewed[link.contact_id] = now
        self.renewals.append(link.contact_id)
        return True

    def unrenew(self, link: Link, now: float) -> None:
        if self.renewed.get(link.contact_id) == now:
            del self.renewed[link.contact_id]
            self.renewals.remove(link.contact_id)

    def hold(self, link: Link, token_hash: str, now: float) -> str | None:
        if link.contact_id in self.holds or self.links.get(token_hash) != link:
            return None
        self.taken.append(f"hold-{len(self.taken)}")
        self.holds[link.contact_id] = self.taken[-1]
        return self.taken[-1]

    def release(self, link: Link, hold: str) -> None:
        if self.holds.get(link.contact_id) == hold:
            del self.holds[link.contact_id]
            self.released.append(hold)

    def mark_activated(self, link: Link, hold: str, now: float) -> bool:
        if self.holds.get(link.contact_id) != hold:
            return False
        del self.holds[link.contact_id]
        self.activated.append(hold)
        self.links = {h: replace(lk, activated=True) if lk == link else lk for h, lk in self.links.items()}
        return True


# The rate limiters


@dataclass
class EmailPace:
    """Consecutive slots at the rate, within the day's quota and the deadline, on the given clock."""

    clock: Callable[[], float]
    rate: float
    next_slot: float = 0.0
    sent_today: int = 0

    def reserve(
        self, count: int, daily_quota: int, *, deadline: float | None = None, replacing: bool = False
    ) -> Reservation:
        start = max(self.clock(), self.next_slot)
        within_quota = count if replacing else max(0, min(count, daily_quota - self.sent_today))
        in_time = count if deadline is None else max(0, math.floor((deadline - start) * self.rate))
        granted = min(within_quota, in_time)
        short: Literal["quota", "time"] | None = None
        if granted < count:
            short = "quota" if within_quota <= in_time else "time"
        self.next_slot = start + granted / self.rate
        self.sent_today += 0 if replacing else granted
        return Reservation([start + i / self.rate for i in range(granted)], short)


@dataclass
class Pace:
    clock: Callable[[], float]
    rate: float
    next_slot: float = 0.0

    def reserve(self, count: int, *, deadline: float | None = None) -> Reservation:
        start = max(self.clock(), self.next_slot)
        fit = count if deadline is None else max(0, min(count, math.floor((deadline - start) * self.rate)))
        self.next_slot = start + fit / self.rate
        return Reservation([start + i / self.rate for i in range(fit)], None if fit == count else "time")


def _conforms(table: JobTable, clock: Callable[[], float]) -> None:
    """Never called: mypy holds each fake to its port here, so a fake that drifts from its Protocol fails
    `make typecheck`."""
    job_reader: ports.JobReader = JobReader(table)
    split_progress: ports.SplitProgress = SplitProgress(table)
    chunk_tally: ports.ChunkTally = ChunkTally(table)
    stalled_jobs: ports.StalledJobs = StalledJobs(table)
    channels: ports.Channels = Channels(table)
    announcements: ports.Announcements = Announcements(table)
    emails_notice: ports.EmailsNotice = EmailsNotice(table)
    jobs: ports.Jobs = Jobs(table)
    directory: ports.Directory = Directory()
    ledger: ports.Ledger = Ledger()
    storage: ports.Storage = Storage()
    queue: ports.Queue = Queue()
    mailer: ports.Mailer = Mailer()
    notifier: ports.Notifier = Notifier()
    user_pool: ports.UserPool = UserPool()
    accounts: ports.Accounts = Accounts()
    links: ports.Links = Links()
    email_pace: ports.EmailPace = EmailPace(clock, 1.0)
    console_jobs: ports.ConsoleJobs = ConsoleJobs(table)
    uploads: ports.Uploads = Uploads()
    pace: ports.Pace = Pace(clock, 1.0)
    del job_reader, split_progress, chunk_tally, stalled_jobs, channels, announcements, emails_notice, jobs
    del directory, ledger, storage, queue, mailer, notifier, user_pool, accounts, links, email_pace, pace
    del console_jobs, uploads
