"""Processing one chunk of rows: resolve Contacts, create portal users insert-only, record every outcome.

A new user's way into its Role's group (docs/contracts.md §6) does not hold the chunk at UserUpdate's fixed 25 calls
a second: a user with no valid email (no link will ever activate it) joins it here, the others through the group
pass (flows/groups), or their own activation, whichever comes first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal_import.domain.activation import new_user_id
from portal_import.domain.ids import ContactRef, normalize_contact_id
from portal_import.domain.job import JobStatus
from portal_import.domain.messages import (
    ChunkOutcomes,
    ChunkRow,
    EmailRecipient,
    Membership,
    Outcome,
    RowChunk,
    email_batches,
    group_requests,
)
from portal_import.domain.people import Contact, PoolUser, PortalUser
from portal_import.domain.results import activation_email_status
from portal_import.domain.rules import (
    PROCESSING_ERROR,
    contact_not_found,
    is_valid_email,
    user_already_exists,
    with_detail,
)
from portal_import.domain.times import now_iso
from portal_import.errors import Transient
from portal_import.flows.completion import request_results_if_ready
from portal_import.observability import logger
from portal_import.ports import Channels, ChunkTally, Directory, JobReader, Queue, Storage, UserPool

# The rows queue redrives after 5 deliveries: the 3rd and 4th already isolate a poison row.
ISOLATE_FROM = 3
PROCESSING_FAILED = with_detail(
    PROCESSING_ERROR, "this row could not be processed after several attempts; upload it again in a new file"
)


@dataclass(frozen=True)
class WorkDeps:
    job_reader: JobReader
    chunk_tally: ChunkTally
    channels: Channels
    directory: Directory
    storage: Storage
    email_queue: Queue
    aggregate_queue: Queue
    group_queue: Queue
    user_pool: UserPool


@dataclass
class _Candidate:
    """A row that passed every check that needs no write: its user is about to be created."""

    source: ChunkRow
    contact: Contact
    wants_email: bool


def process_chunk(chunk: RowChunk, deps: WorkDeps, *, delivery: int = 1, deadline: float | None = None) -> None:
    """Decides and records every row of the chunk; `delivery` is how many times SQS has handed it out, `deadline`
    when its Cognito calls must have finished (epoch seconds; None: no bound).

    From the ISOLATE_FROM-th delivery on, the rows are processed one by one, so that a row that always fails
    (a poison row) costs only itself: it ends as `Processing error`, the others as they should. A transient
    error (throttling, 5xx, a timeout) that outlasts the in-process retries is never blamed on a row: the
    chunk fails and is delivered again.
    """
    logger.append_keys(job_id=chunk.job_id, chunk=chunk.seq)
    job = deps.job_reader.get(chunk.job_id)
    if job is None or job.status is JobStatus.FAILED:
        logger.warning("Chunk of a job that does not exist or was rejected; nothing to do")
        return
    if chunk.seq in job.chunks_done:
        logger.info("Chunk already accounted for (redelivery)")
        # The attempt that counted it may have failed before asking for the results.
        request_results_if_ready(job, deps.channels, deps.aggregate_queue)
        return
    if delivery >= ISOLATE_FROM:
        outcomes, emails = _decide_row_by_row(chunk, deps, deadline)
    else:
        outcomes, emails = _decide(chunk, deps, deadline)
    _record(chunk, outcomes, emails, deps)


def _decide_row_by_row(
    chunk: RowChunk, deps: WorkDeps, deadline: float | None
) -> tuple[list[Outcome], list[EmailRecipient]]:
    logger.warning("Chunk failed before: processing its rows one by one")
    outcomes: list[Outcome] = []
    emails: list[EmailRecipient] = []
    for row in chunk.rows:
        single = chunk.model_copy(update={"rows": [row]})
        try:
            row_outcomes, row_emails = _decide(single, deps, deadline)
        except Transient:
            # A service's bad spell, not the row's fault: the chunk is delivered again (the users it created so
            # far are recognized as its own then), rather than the row failing.
            raise
        except Exception as error:  # noqa: BLE001 - the row's own failure: its Processing error, the others go on
            logger.error("Row failed on its own", extra={"row": row.row, "error": error})
            row_outcomes, row_emails = _salvage(single, deps)
        outcomes.extend(row_outcomes)
        emails.extend(row_emails)
    return outcomes, emails


def account_dead_chunk(chunk: RowChunk, deps: WorkDeps) -> None:
    """A chunk whose retries are spent (it reached the dead-letter queue): every row still gets an outcome.

    Rows that an attempt did get through (their user exists, created by this job and row) are reported as
    created; rules 1-4 failures keep their error; the rest fail as `Processing error` so the job can finish.
    """
    logger.append_keys(job_id=chunk.job_id, chunk=chunk.seq)
    job = deps.job_reader.get(chunk.job_id)
    if job is None or job.status is JobStatus.FAILED or chunk.seq in job.chunks_done:
        logger.info("Dead-lettered chunk needs no accounting", extra={"known_job": job is not None})
        if job is not None:
            request_results_if_ready(job, deps.channels, deps.aggregate_queue)
        return
    outcomes, emails = _salvage(chunk, deps)
    logger.warning("Dead-lettered chunk accounted", extra={"rows": len(outcomes)})
    _record(chunk, outcomes, emails, deps)


def _salvage(chunk: RowChunk, deps: WorkDeps) -> tuple[list[Outcome], list[EmailRecipient]]:
    """Outcomes for rows whose processing keeps failing: those whose user an attempt did create are reported
    as created; rules 1-4 failures keep their error; the rest are Processing error."""
    try:
        survivors = _users_created_by(chunk, deps.directory)
    except Exception:  # noqa: BLE001 - whatever broke the chunk may break this look-up too; account anyway
        logger.exception("Could not look for users created by the failed attempts")
        survivors = {}
    survivors = _finished_in_the_pool(survivors, deps)
    outcomes: list[Outcome] = []
    emails: list[EmailRecipient] = []
    for row in chunk.rows:
        if row.error:
            outcomes.append(Outcome(row=row.row, input_contact_id=row.contact_id, input_role=row.role, error=row.error))
        elif row.row in survivors:
            user, contact = survivors[row.row]
            outcomes.append(_created(row, user.user_id, contact, chunk))
            if chunk.send_activation_email and is_valid_email(contact.email):
                emails.append(contact.recipient(row.row, user.user_id))
        else:
            outcomes.append(
                Outcome(row=row.row, input_contact_id=row.contact_id, input_role=row.role, error=PROCESSING_FAILED)
            )
    return outcomes, emails


def _finished_in_the_pool(
    survivors: dict[int, tuple[PortalUser, Contact]], deps: WorkDeps
) -> dict[int, tuple[PortalUser, Contact]]:
    """The users an attempt claimed whose pool user is (now) in the pool, on its way to its group; each is tried
    alone."""
    finished = {}
    for row, (user, contact) in survivors.items():
        try:
            _make_pool_users(user.job_id, [(contact.pool_user(user.user_id), user.role)], deps, None)
        except Exception as error:  # noqa: BLE001 - the row then fails as Processing error; the others go on
            logger.error("Could not finish a pool user", extra={"row": row, "error": error})
            continue
        finished[row] = (user, contact)
    return finished


def _users_created_by(chunk: RowChunk, directory: Directory) -> dict[int, tuple[PortalUser, Contact]]:
    refs = {row.row: normalize_contact_id(row.contact_id.strip()) for row in chunk.rows if not row.error}
    contacts = directory.resolve(refs.values())
    users = directory.existing_users(contact.contact_id for contact in contacts.values())
    found: dict[int, tuple[PortalUser, Contact]] = {}
    for row_number, ref in refs.items():
        contact = contacts.get(ref.key)
        user = users.get(contact.contact_id) if contact else None
        if contact and user and user.job_id == chunk.job_id and user.row == row_number:
            found[row_number] = (user, contact)
    return found


def _record(chunk: RowChunk, outcomes: list[Outcome], emails: list[EmailRecipient], deps: WorkDeps) -> None:
    """Stores the chunk's outcomes, queues its emails, and counts it (once) towards the job's progress."""
    deps.storage.put_outcomes(ChunkOutcomes(job_id=chunk.job_id, seq=chunk.seq, outcomes=outcomes))
    batches = email_batches(f"{chunk.job_id}#{chunk.seq}", chunk.job_id, emails)
    queued = deps.email_queue.send_all(batch.to_json() for batch in batches)
    succeeded = sum(1 for outcome in outcomes if outcome.succeeded)
    progress = deps.chunk_tally.record_chunk(
        chunk.job_id,
        chunk.seq,
        rows=len(outcomes),
        succeeded=succeeded,
        failed=len(outcomes) - succeeded,
        emails_queued=len(emails),
    )
    logger.info("Chunk done", extra={"rows": len(outcomes), "succeeded": succeeded, "email_messages": queued})
    request_results_if_ready(progress, deps.channels, deps.aggregate_queue)


def _decide(chunk: RowChunk, deps: WorkDeps, deadline: float | None) -> tuple[list[Outcome], list[EmailRecipient]]:
    """Each row's outcome: rules 1-5 from the chunk and the directory, then rule 6 by claiming the users (or, in
    validate mode, by looking), then the pool users; the emails of the users created."""
    outcomes: dict[int, Outcome] = {}
    refs = _references(chunk, outcomes)
    candidates, later_rows = _candidates(chunk, refs, deps.directory.resolve(refs.values()), outcomes)
    created, holders = _claim(chunk, candidates, deps, deadline)
    emails = _created_or_held(chunk, candidates, later_rows, created, holders, outcomes)
    return [outcomes[row] for row in sorted(outcomes)], emails


def _fail(outcomes: dict[int, Outcome], row: ChunkRow, error: str) -> None:
    outcomes[row.row] = Outcome(row=row.row, input_contact_id=row.contact_id, input_role=row.role, error=error)


def _references(chunk: RowChunk, outcomes: dict[int, Outcome]) -> dict[int, ContactRef]:
    """The Contact reference of each row that passed rules 1-4 and whose ID has a form a Contact can have; the
    others fail (their rule's error, or Contact not found)."""
    refs: dict[int, ContactRef] = {}
    for row in chunk.rows:
        if row.error:
            _fail(outcomes, row, row.error)
            continue
        ref = normalize_contact_id(row.contact_id.strip())
        if ref.kind == "invalid":
            _fail(outcomes, row, contact_not_found(ref, row.contact_id, row.role))
        else:
            refs[row.row] = ref
    return refs


def _candidates(
    chunk: RowChunk, refs: dict[int, ContactRef], contacts: dict[str, Contact], outcomes: dict[int, Outcome]
) -> tuple[list[_Candidate], list[tuple[ChunkRow, _Candidate]]]:
    """The rows whose Contact exists, one per Contact (the first row naming it), and the later rows that name a
    Contact an earlier row of the chunk named through another ID form (decided by that row)."""
    candidates: list[_Candidate] = []
    claimed: dict[str, _Candidate] = {}  # contact id -> first row of this chunk that names it
    later_rows: list[tuple[ChunkRow, _Candidate]] = []
    for row in chunk.rows:
        if row.row not in refs:
            continue
        contact = contacts.get(refs[row.row].key)
        if contact is None:
            _fail(outcomes, row, contact_not_found(refs[row.row], row.contact_id, row.role))
        elif contact.contact_id in claimed:
            later_rows.append((row, claimed[contact.contact_id]))
        else:
            wants_email = chunk.send_activation_email and is_valid_email(contact.email)
            claimed[contact.contact_id] = _Candidate(source=row, contact=contact, wants_email=wants_email)
            candidates.append(claimed[contact.contact_id])
    return candidates, later_rows


def _claim(
    chunk: RowChunk, candidates: list[_Candidate], deps: WorkDeps, deadline: float | None
) -> tuple[dict[str, str], dict[str, PortalUser]]:
    """The users created (contact id -> user id) and the Contacts that already had one (their users)."""
    if not candidates:
        return {}, {}
    if chunk.mode == "validate":
        holders = deps.directory.existing_users(c.contact.contact_id for c in candidates)
        return {c.contact.contact_id: "" for c in candidates if c.contact.contact_id not in holders}, holders
    created, holders = _create_users(chunk.job_id, candidates, deps.directory)
    # A row is created once its user is in the pool and on its way to its Role's group, not before.
    new = [_pool_user(c, created[c.contact.contact_id]) for c in candidates if c.contact.contact_id in created]
    _make_pool_users(chunk.job_id, new, deps, deadline)
    return created, holders


def _make_pool_users(
    job_id: str, users: Sequence[tuple[PoolUser, str]], deps: WorkDeps, deadline: float | None
) -> None:
    """Creates the pool users (at UserCreation's pace) and sets each on its way to its Role's group: at once when
    it has no valid email, through the group pass (a request on the group queue) when it does."""
    deps.user_pool.create_users([user for user, _ in users], deadline=deadline)
    now = [(user.user_id, role) for user, role in users if not is_valid_email(user.email)]
    later = [Membership(user_id=user.user_id, role=role) for user, role in users if is_valid_email(user.email)]
    if now:
        deps.user_pool.add_to_groups(now, deadline=deadline)
    if later:
        deps.group_queue.send_all(request.to_json() for request in group_requests(job_id, later))


def _created_or_held(
    chunk: RowChunk,
    candidates: list[_Candidate],
    later_rows: list[tuple[ChunkRow, _Candidate]],
    created: dict[str, str],
    holders: dict[str, PortalUser],
    outcomes: dict[int, Outcome],
) -> list[EmailRecipient]:
    """Each candidate is created, or fails by rule 6; a later row naming the same Contact fails by rule 6 too.
    Returns the activation emails of the users created."""
    emails: list[EmailRecipient] = []
    for candidate in candidates:
        contact_id = candidate.contact.contact_id
        if contact_id in holders:
            _fail(outcomes, candidate.source, user_already_exists(contact_id, holders[contact_id].user_id))
            continue
        outcomes[candidate.source.row] = _created(candidate.source, created[contact_id], candidate.contact, chunk)
        if candidate.wants_email and chunk.mode == "import":
            emails.append(candidate.contact.recipient(candidate.source.row, created[contact_id]))
    for later, first in later_rows:
        contact_id = first.contact.contact_id
        if contact_id in holders:  # the Contact had its user before this file
            error = user_already_exists(contact_id, holders[contact_id].user_id)
        else:
            error = user_already_exists(contact_id, created[contact_id], from_row=first.source.row)
        _fail(outcomes, later, error)
    return emails


def _create_users(
    job_id: str, candidates: Sequence[_Candidate], directory: Directory
) -> tuple[dict[str, str], dict[str, PortalUser]]:
    """Returns (contact id -> new user id) and (contact id -> user that already held the Contact)."""
    created_at = now_iso()
    users: list[PortalUser] = []
    for candidate in candidates:
        users.append(
            PortalUser(
                contact_id=candidate.contact.contact_id,
                user_id=new_user_id(),
                role=candidate.source.role.strip(),
                job_id=job_id,
                row=candidate.source.row,
                created_at=created_at,
            )
        )
    result = directory.create_users(users)
    created = {user.contact_id: user.user_id for user in result.created}
    holders: dict[str, PortalUser] = {}
    by_contact = {candidate.contact.contact_id: candidate for candidate in candidates}
    for contact_id, holder in result.existing.items():
        candidate = by_contact[contact_id]
        if holder.job_id == job_id and holder.row == candidate.source.row:
            # This very row created the user in an earlier attempt that did not finish: it is ours.
            created[contact_id] = holder.user_id
        else:
            holders[contact_id] = holder
    return created, holders


def _pool_user(candidate: _Candidate, user_id: str) -> tuple[PoolUser, str]:
    """The pool user a candidate row makes, and the group (its Role) it goes in."""
    return candidate.contact.pool_user(user_id), candidate.source.role.strip()


def _created(row: ChunkRow, user_id: str, contact: Contact, chunk: RowChunk) -> Outcome:
    return Outcome(
        row=row.row,
        input_contact_id=row.contact_id,
        input_role=row.role,
        contact_id=contact.contact_id,
        role=row.role.strip(),
        user_id=user_id,
        activation_email=activation_email_status(
            requested=chunk.send_activation_email,
            valid_email=is_valid_email(contact.email),
            validate_mode=chunk.mode == "validate",
        ),
    )
