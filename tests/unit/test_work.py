"""Processing a chunk of rows, on the fakes of its ports: each row's outcome, its user and its email, a chunk counted
once whatever the deliveries, a poison row isolated, a service's bad spell never blamed on a row, a dead chunk
accounted for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import pytest

from portal_import.domain.ids import ContactRef
from portal_import.domain.messages import AggregateRequest, ChunkRow, EmailBatch, GroupRequest, Outcome, RowChunk
from portal_import.domain.people import Contact, PortalUser
from portal_import.domain.results import NO_VALID_EMAIL, QUEUED
from portal_import.errors import Transient
from portal_import.flows.groups import GroupDeps, place_in_groups
from portal_import.flows.work import WorkDeps, account_dead_chunk, process_chunk

from .fakes import Channels, ChunkTally, Directory, JobReader, JobTable, Queue, Storage, UserPool
from .sample_jobs import JOB_ID, a_job

ANA = Contact("0031000000000000001", email="ana@example.com", first_name="Ana")
BEN = Contact("0031000000000000002", email="not an address", first_name="Ben")
CY = Contact("0031000000000000003", email="cy@example.com")  # already has a portal user
NOBODY = "0031000000000000009"
POISON = Contact("0031000000000000007", email="p@example.com")  # looking it up always fails
DEADLINE = 1_900_000_000.0


class PoisonDirectory(Directory):
    """A directory whose look-up of one Contact always fails (a bug, not a service's bad spell), or whose every
    look-up fails with `fault` when it is set."""

    fault: Exception | None = None

    def resolve(self, refs: Iterable[ContactRef]) -> dict[str, Contact]:
        refs = list(refs)
        if self.fault is not None:
            raise self.fault
        if any(ref.key == POISON.contact_id for ref in refs):
            raise KeyError("the directory cannot read this Contact")
        return super().resolve(refs)


@dataclass
class World:
    """A job of one chunk, and a directory of Ana, Ben (no valid address), Cy (who has a portal user) and Poison."""

    table: JobTable = field(default_factory=lambda: JobTable().put(a_job(chunk_count=1, chunk_starts=[2])))
    directory: PoisonDirectory = field(default_factory=PoisonDirectory)
    storage: Storage = field(default_factory=Storage)
    emails: Queue = field(default_factory=Queue)
    aggregate: Queue = field(default_factory=Queue)
    groups: Queue = field(default_factory=Queue)
    pool: UserPool = field(default_factory=UserPool)

    def __post_init__(self) -> None:
        self.directory.with_contacts(ANA, BEN, CY, POISON)
        self.directory.users[CY.contact_id] = PortalUser(CY.contact_id, "005OLDUSER000000001", "Customer", "other")

    @property
    def deps(self) -> WorkDeps:
        return WorkDeps(
            job_reader=JobReader(self.table),
            chunk_tally=ChunkTally(self.table),
            channels=Channels(self.table),
            directory=self.directory,
            storage=self.storage,
            email_queue=self.emails,
            aggregate_queue=self.aggregate,
            group_queue=self.groups,
            user_pool=self.pool,
        )

    def group_requests(self) -> list[tuple[str, str]]:
        """(username, Role) of every member of the group requests queued, in order."""
        requests = [GroupRequest.model_validate_json(body) for body in self.groups.bodies]
        return [(member.user_id, member.role) for request in requests for member in request.members]

    def outcomes(self, seq: int = 0) -> dict[int, Outcome]:
        return {outcome.row: outcome for outcome in self.storage.outcomes[JOB_ID, seq].outcomes}

    def recipients(self) -> list[tuple[int, str]]:
        batches = [EmailBatch.model_validate_json(body) for body in self.emails.bodies]
        return [(r.row, r.contact_id) for batch in batches for r in batch.recipients]


def _chunk(*rows: tuple[str, str] | ChunkRow, seq: int = 0) -> RowChunk:
    chunk_rows = [
        row if isinstance(row, ChunkRow) else ChunkRow(row=2 + n, contact_id=row[0], role=row[1])
        for n, row in enumerate(rows)
    ]
    return RowChunk(job_id=JOB_ID, seq=seq, mode="import", send_activation_email=True, rows=chunk_rows)


def test_each_row_gets_the_outcome_its_contact_and_the_directory_decide() -> None:
    # Given a chunk: a Contact with an address, one without a valid one, one that has a user, an unknown one, and
    # a row the splitter already failed (an inactive Role fails by rule 3 when the file is read, not here)
    world = World()
    inactive = ChunkRow(row=6, contact_id=ANA.contact_id, role="Legacy Partner", error="Invalid Role: inactive")
    rows = [(ANA.contact_id, " Partner User "), (BEN.contact_id, "Customer"), (CY.contact_id, "Customer")]
    chunk = _chunk(*rows, (NOBODY, "Customer"), inactive)

    # When the worker processes it, with the invocation's deadline
    process_chunk(chunk, world.deps, deadline=DEADLINE)

    # Then Ana's and Ben's users are created (the Role trimmed), in the pool by the deadline
    outcomes = world.outcomes()
    assert (outcomes[2].contact_id, outcomes[2].role, outcomes[2].activation_email) == (
        ANA.contact_id,
        "Partner User",
        QUEUED,
    )
    assert (outcomes[3].error, outcomes[3].activation_email) == (None, NO_VALID_EMAIL)
    created = {user.contact_id: username for username, user in world.pool.users.items()}
    assert set(created) == {ANA.contact_id, BEN.contact_id}
    # Ben, whom no link will ever activate, is in his Role's group at once (by the deadline); Ana joins hers through
    # the group pass (or her activation), so that the chunk does not wait on UserUpdate's quota
    assert world.pool.groups == {created[BEN.contact_id]: "Customer"}
    assert world.group_requests() == [(created[ANA.contact_id], "Partner User")]
    assert world.pool.deadlines == [DEADLINE, DEADLINE]
    # and Cy's row fails by rule 6 naming the user it has, the unknown one by rule 5, the splitter's failure is kept
    assert (outcomes[4].error or "").startswith("User already exists") and "005OLDUSER000000001" in str(
        outcomes[4].error
    )
    assert (outcomes[5].error or "").startswith("Contact not found")
    assert (outcomes[6].error, outcomes[6].input_role) == ("Invalid Role: inactive", "Legacy Partner")
    assert world.directory.users[CY.contact_id].user_id == "005OLDUSER000000001"  # insert only
    # and only Ana gets an activation email, from the row that created her user
    assert world.recipients() == [(2, ANA.contact_id)]
    # and the chunk is counted, and the finished job's results asked for
    job = world.table[JOB_ID]
    assert (job.chunks_done, job.succeeded, job.failed, job.emails_queued) == ({0}, 2, 3, 1)
    assert job.results_requested_at is not None
    assert [AggregateRequest.model_validate_json(body).job_id for body in world.aggregate.bodies] == [JOB_ID]


def test_a_chunk_delivered_again_once_counted_changes_nothing() -> None:
    # Given a chunk processed and counted once
    world = World()
    chunk = _chunk((ANA.contact_id, "Partner User"))
    process_chunk(chunk, world.deps)
    users = dict(world.directory.users)

    # When SQS delivers it again
    process_chunk(chunk, world.deps, delivery=2)

    # Then no user, email, count or results request is added
    assert world.table[JOB_ID].succeeded == 1
    assert world.directory.users == users
    assert len(world.emails.bodies) == 1 and len(world.aggregate.bodies) == 1


def test_from_the_third_delivery_a_poison_row_fails_alone() -> None:
    # Given a chunk with a row whose Contact the directory can never read
    world = World()
    chunk = _chunk((ANA.contact_id, "Partner User"), (POISON.contact_id, "Customer"), (BEN.contact_id, "Customer"))

    # When it is delivered the 2nd time, the whole chunk fails (and goes back to the queue)
    with pytest.raises(KeyError):
        process_chunk(chunk, world.deps, delivery=2)
    assert world.storage.outcomes == {}

    # When it is delivered the 3rd time, its rows are processed one by one
    process_chunk(chunk, world.deps, delivery=3)

    # Then the poison row ends as Processing error, and the others as they should
    outcomes = world.outcomes()
    assert (outcomes[3].error or "").startswith("Processing error")
    assert outcomes[2].succeeded and outcomes[4].succeeded
    assert world.table[JOB_ID].failed == 1


def test_a_service_bad_spell_is_never_blamed_on_a_row() -> None:
    # Given a directory that is throttled past the in-process retries
    world = World()
    world.directory.fault = Transient("DynamoDB throttled")

    # When a chunk is delivered a 3rd time (rows one by one)
    with pytest.raises(Transient):
        process_chunk(_chunk((ANA.contact_id, "Partner User")), world.deps, delivery=3)

    # Then the chunk fails as a whole, to be delivered again: no row is failed, nothing is counted
    assert world.storage.outcomes == {}
    assert world.table[JOB_ID].chunks_done == set()


def test_a_dead_chunk_reports_the_users_its_attempts_created_and_fails_the_rest() -> None:
    # Given a chunk whose attempt created Ana's user (row 2) before failing for good, and a row of rule 1
    world = World()
    world.directory.users[ANA.contact_id] = PortalUser(ANA.contact_id, "005ANA0000000000001", "Partner User", JOB_ID, 2)
    missing = ChunkRow(row=4, contact_id="", role="Customer", error="Missing Contact ID")
    chunk = _chunk((ANA.contact_id, "Partner User"), (BEN.contact_id, "Customer"), missing)

    # When it reaches the dead-letter queue
    account_dead_chunk(chunk, world.deps)

    # Then Ana's row is created (her pool user finished, her email queued), Ben's a Processing error, rule 1 kept
    outcomes = world.outcomes()
    assert (outcomes[2].user_id, outcomes[2].activation_email) == ("005ANA0000000000001", QUEUED)
    assert (outcomes[3].error or "").startswith("Processing error")
    assert outcomes[4].error == "Missing Contact ID"
    assert "005ANA0000000000001" in world.pool.users
    assert world.recipients() == [(2, ANA.contact_id)]
    # and the chunk is counted, so the job can finish
    assert (world.table[JOB_ID].chunks_done, world.table[JOB_ID].succeeded) == ({0}, 1)


def test_the_users_with_an_address_go_to_the_group_pass_25_a_request_and_it_places_each_once_created() -> None:
    # Given a chunk of 60 rows whose Contacts all have an address
    world = World()
    contacts = [replace(ANA, contact_id=f"00320000000000{n:05d}", email=f"p{n}@example.com") for n in range(60)]
    world.directory.with_contacts(*contacts)
    chunk = _chunk(*((contact.contact_id, "Customer") for contact in contacts))

    # When the worker processes it
    process_chunk(chunk, world.deps, deadline=DEADLINE)

    # Then no user is in a group yet, and their group requests hold 25, 25 and 10 of them, every user once
    assert world.pool.groups == {}
    requests = [GroupRequest.model_validate_json(body) for body in world.groups.bodies]
    assert [len(request.members) for request in requests] == [25, 25, 10]
    assert sorted(world.group_requests()) == sorted((username, "Customer") for username in world.pool.users)

    # And the group pass places them, one request at a time (a user deleted from the pool since is passed over)
    gone = requests[2].members[0].user_id
    del world.pool.users[gone]
    placed = [place_in_groups(request, GroupDeps(user_pool=world.pool), deadline=DEADLINE) for request in requests]
    assert placed == [25, 25, 9]
    assert world.pool.groups == {username: "Customer" for username in world.pool.users}
