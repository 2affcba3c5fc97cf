"""Splitting a dropped file into a job, on the fakes of its ports: a refused file, the chunks queued, the split
handed on when the invocation runs short of time, the Roles taken once, and Map Fields' columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import portal_import.flows.split as split
from portal_import.config import SplitterSettings
from portal_import.domain.job import Job, JobStatus, job_id_for
from portal_import.domain.messages import AggregateRequest, RowChunk, SplitContinuation
from portal_import.flows.split import DroppedFile, SplitDeps, continue_split, split_file

from .fakes import Channels, Directory, JobReader, JobTable, Queue, SplitProgress, Storage

SETTINGS = SplitterSettings.from_env(
    {
        "JOBS_TABLE": "jobs",
        "DIRECTORY_TABLE": "directory",
        "ROWS_QUEUE_URL": "rows",
        "AGGREGATE_QUEUE_URL": "aggregate",
        "SPLIT_QUEUE_URL": "split",
        "SEND_ACTIVATION_EMAIL_DEFAULT": "false",
        "MAX_FILE_BYTES": "1000000",
        "MAX_ROWS": "10000",
        "MAX_FIELD_CHARS": "1000",
    }
)
NOW = 1_900_000_000.0
KEY = "imports/partners.csv"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 4 rows, so that a file of a few rows takes several (as 1,000 rows a chunk would on AWS)."""
    monkeypatch.setattr(split, "CHUNK_ROWS", 4)


def _contact(n: int) -> str:
    return f"003{n:012d}0001"


def _csv(rows: int, header: str = "ContactId,Role") -> bytes:
    return (header + "\r\n" + "".join(f"{_contact(n)},Partner User\r\n" for n in range(rows))).encode()


@dataclass
class World:
    """A bucket, the directory's Roles (one inactive), the job table and the queues, on a clock stopped at NOW."""

    table: JobTable = field(default_factory=JobTable)
    directory: Directory = field(default_factory=lambda: Directory(roles={"Partner User": True, "Legacy": False}))
    storage: Storage = field(default_factory=Storage)
    rows: Queue = field(default_factory=Queue)
    aggregate: Queue = field(default_factory=Queue)
    continuations: Queue = field(default_factory=Queue)

    @property
    def deps(self) -> SplitDeps:
        return SplitDeps(
            job_reader=JobReader(self.table),
            split_progress=SplitProgress(self.table),
            channels=Channels(self.table),
            directory=self.directory,
            storage=self.storage,
            rows_queue=self.rows,
            aggregate_queue=self.aggregate,
            split_queue=self.continuations,
            clock=lambda: NOW,
        )

    def drop(self, data: bytes, metadata: dict[str, str] | None = None, key: str = KEY) -> DroppedFile:
        self.storage.drop(key, data, metadata)
        return DroppedFile("imports-bucket", key, "v1", "v1", "2026-11-25T10:15:00+00:00", len(data))

    def chunks(self) -> list[RowChunk]:
        return [RowChunk.model_validate_json(body) for body in self.rows.bodies]

    def job(self, dropped: DroppedFile) -> Job:
        return self.table[job_id_for(dropped.bucket, dropped.key, dropped.version, dropped.event_time)]


def test_a_file_refused_fails_its_job_sends_no_row_and_asks_for_its_results() -> None:
    # Given a file without a Role column
    world = World()
    dropped = world.drop(b"ContactId,Name\r\n00300000000000000001,Ana\r\n")

    # When the splitter is notified
    job_id = split_file(dropped, world.deps, SETTINGS)

    # Then the job failed with a sentence naming the missing column, no row went out, and its results are asked for
    job = world.job(dropped)
    assert job_id == job.job_id and job.status is JobStatus.FAILED
    assert "Role" in (job.error or "")
    assert world.rows.bodies == []
    assert [AggregateRequest.model_validate_json(body).job_id for body in world.aggregate.bodies] == [job.job_id]


def test_a_file_is_queued_in_chunks_and_the_job_knows_its_size() -> None:
    # Given a file of 10 rows, one of them for an inactive Role, and its options as metadata
    world = World()
    data = _csv(10).replace(f"{_contact(7)},Partner User".encode(), f"{_contact(7)},Legacy".encode())
    dropped = world.drop(data, {"send-activation-email": "true", "mode": "validate"})

    # When the splitter is notified with plenty of time
    split_file(dropped, world.deps, SETTINGS, deadline=NOW + 900)

    # Then the rows go out in chunks of CHUNK_ROWS, in order, each row once, with the file's options
    chunks = world.chunks()
    assert [len(chunk.rows) for chunk in chunks] == [4, 4, 2]
    assert [chunk.seq for chunk in chunks] == [0, 1, 2]
    assert [row.row for chunk in chunks for row in chunk.rows] == list(range(2, 12))
    assert all(chunk.mode == "validate" and chunk.send_activation_email for chunk in chunks)
    # and the inactive Role's row already carries rule 3's error
    (refused,) = [row for chunk in chunks for row in chunk.rows if row.error]
    assert refused.row == 9 and refused.error is not None and refused.error.startswith("Invalid Role")
    # and the job records its size and chunk starts, and waits for the workers
    job = world.job(dropped)
    assert (job.status, job.total_rows, job.chunk_count, job.chunk_starts) == (
        JobStatus.PROCESSING,
        10,
        3,
        [2, 6, 10],
    )
    assert world.continuations.bodies == [] and world.aggregate.bodies == []


def test_a_split_short_of_time_hands_the_rest_on_from_a_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a file of four chunks, sent one chunk a batch, and an invocation whose deadline is within the margin
    monkeypatch.setattr(split, "CHUNKS_PER_BATCH", 1)
    world = World()
    dropped = world.drop(_csv(14))

    # When the splitter is notified
    split_file(dropped, world.deps, SETTINGS, deadline=NOW + split.TIME_MARGIN_SECONDS - 1)

    # Then one batch goes out, the checkpoint is recorded and a continuation from it is queued
    assert [chunk.seq for chunk in world.chunks()] == [0]
    job = world.job(dropped)
    assert (job.status, job.split_next_seq, job.split_rows, job.split_handed_on) == (JobStatus.SPLITTING, 1, 4, True)
    (continuation,) = [SplitContinuation.model_validate_json(body) for body in world.continuations.bodies]
    assert (continuation.job_id, continuation.next_seq) == (job.job_id, 1)

    # When each continuation is delivered with time enough
    continue_split(continuation, world.deps, SETTINGS, deadline=NOW + 900)

    # Then the other chunks go out, each once, and the split finishes; the continuation again changes nothing
    continue_split(continuation, world.deps, SETTINGS, deadline=NOW + 900)
    assert [chunk.seq for chunk in world.chunks()] == [0, 1, 2, 3]
    assert world.job(dropped).status is JobStatus.PROCESSING and world.job(dropped).total_rows == 14


def test_a_split_without_a_deadline_reads_the_whole_file_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split, "CHUNKS_PER_BATCH", 1)
    world = World()
    dropped = world.drop(_csv(14))
    split_file(dropped, world.deps, SETTINGS, deadline=None)
    assert len(world.chunks()) == 4 and world.continuations.bodies == []


def test_every_reading_judges_rows_by_the_roles_of_the_jobs_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a split handed on after its first chunk
    monkeypatch.setattr(split, "CHUNKS_PER_BATCH", 1)
    world = World()
    dropped = world.drop(_csv(10))
    split_file(dropped, world.deps, SETTINGS, deadline=NOW)
    assert world.job(dropped).roles == {"Partner User": True, "Legacy": False}

    # When the Role is deactivated in the directory before the continuation runs
    world.directory.roles["Partner User"] = False
    (body,) = world.continuations.bodies
    continue_split(SplitContinuation.model_validate_json(body), world.deps, SETTINGS, deadline=NOW + 900)

    # Then the later chunks' rows are still judged by the snapshot: none fails rule 3
    assert len(world.chunks()) == 3
    assert [row for chunk in world.chunks() for row in chunk.rows if row.error] == []


def test_map_fields_names_the_columns_and_the_job_keeps_their_headers() -> None:
    # Given a report export whose headers do not auto-map, dropped with its columns named
    world = World()
    data = b"Contact: Contact ID,Portal Role,Owner\r\n" + f"{_contact(1)},Partner User,Zo\u00eb\r\n".encode()
    metadata = {"contactid-column": "Contact: Contact ID", "role-column": "Portal Role"}
    dropped = world.drop(data, metadata)

    # When the splitter is notified
    split_file(dropped, world.deps, SETTINGS)

    # Then the row is read from the named columns, and the job keeps each field's header
    (chunk,) = world.chunks()
    assert [(row.contact_id, row.role, row.error) for row in chunk.rows] == [(_contact(1), "Partner User", None)]
    assert world.job(dropped).columns == {"ContactId": "Contact: Contact ID", "Role": "Portal Role"}


def test_a_named_column_the_file_lacks_refuses_the_file_listing_the_columns_found() -> None:
    world = World()
    dropped = world.drop(_csv(3), {"contactid-column": "Contact Number"})
    split_file(dropped, world.deps, SETTINGS)
    job = world.job(dropped)
    assert job.status is JobStatus.FAILED and "ContactId" in (job.error or "") and world.rows.bodies == []


def test_the_same_event_delivered_again_starts_nothing() -> None:
    world = World()
    dropped = world.drop(_csv(3))
    assert split_file(dropped, world.deps, SETTINGS) is not None
    assert split_file(dropped, world.deps, SETTINGS) is None
    assert len(world.chunks()) == 1
