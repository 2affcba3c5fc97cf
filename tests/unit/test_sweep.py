"""Finishing stalled jobs, on the fakes of the sweeper's ports: a job idle for the stall period is moved on as far
as it got (results asked for again, its split done again, its lost chunks reported); a job at work is left alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from portal_import.config import SweeperSettings
from portal_import.domain.job import JobStatus
from portal_import.domain.messages import AggregateRequest, RowChunk
from portal_import.flows.sweep import SweepDeps, sweep

from .fakes import Channels, ChunkTally, Directory, JobReader, JobTable, Queue, SplitProgress, StalledJobs, Storage
from .sample_jobs import JOB_ID, a_job

SETTINGS = SweeperSettings.from_env(
    {
        "JOBS_TABLE": "jobs",
        "DIRECTORY_TABLE": "directory",
        "ROWS_QUEUE_URL": "rows",
        "AGGREGATE_QUEUE_URL": "aggregate",
        "RESULTS_BUCKET": "results",
        "SEND_ACTIVATION_EMAIL_DEFAULT": "false",
        "MAX_FILE_BYTES": "1000000",
        "MAX_ROWS": "10000",
        "MAX_FIELD_CHARS": "1000",
        "STALLED_JOB_MINUTES": "30",
    }
)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
IDLE = "2026-11-25T11:00:00.000Z"  # more than the stall period before NOW
BUSY = "2026-11-25T11:59:00.000Z"  # within it
# Rows 2-4: a Contact, a row of rule 1, another Contact
FILE = b"ContactId,Role\r\n003000000000001AAA1,Partner User\r\n,Partner User\r\n003000000000002AAA1,Partner User\r\n"


@dataclass
class World:
    table: JobTable = field(default_factory=JobTable)
    storage: Storage = field(default_factory=lambda: Storage().drop("imports/partners.csv", FILE))
    rows: Queue = field(default_factory=Queue)
    aggregate: Queue = field(default_factory=Queue)

    @property
    def deps(self) -> SweepDeps:
        return SweepDeps(
            job_reader=JobReader(self.table),
            split_progress=SplitProgress(self.table),
            channels=Channels(self.table),
            directory=Directory(roles={"Partner User": True}),
            storage=self.storage,
            rows_queue=self.rows,
            aggregate_queue=self.aggregate,
            split_queue=None,
            stalled_jobs=StalledJobs(self.table),
            chunk_tally=ChunkTally(self.table),
        )

    def aggregate_requests(self) -> list[str]:
        return [AggregateRequest.model_validate_json(body).job_id for body in self.aggregate.bodies]


def test_an_idle_job_with_every_row_accounted_for_asks_for_its_results_again() -> None:
    # Given a job whose chunks are all done but whose aggregate request was lost
    world = World()
    world.table.put(a_job(chunk_count=1, chunks_done={0}, updated_at=IDLE, results_requested_at=IDLE))

    # When the sweeper runs
    swept = sweep(NOW, world.deps, SETTINGS)

    # Then its results are asked for again, and it gets a new stall period
    assert swept == [JOB_ID] and world.aggregate_requests() == [JOB_ID]
    assert world.table[JOB_ID].updated_at != IDLE


def test_an_idle_job_still_splitting_is_split_again() -> None:
    # Given a job whose splitter stopped before it queued anything
    world = World()
    world.table.put(a_job(status=JobStatus.SPLITTING, updated_at=IDLE))

    # When the sweeper runs
    sweep(NOW, world.deps, SETTINGS)

    # Then its rows go out and its split is recorded
    (chunk,) = [RowChunk.model_validate_json(body) for body in world.rows.bodies]
    assert [row.row for row in chunk.rows] == [2, 3, 4]
    assert (world.table[JOB_ID].status, world.table[JOB_ID].total_rows) == (JobStatus.PROCESSING, 3)


def test_an_idle_job_missing_chunks_reports_their_rows_and_finishes() -> None:
    # Given a job of two chunks (rows 2-3 and 4) whose second chunk was lost
    world = World()
    world.table.put(
        a_job(chunk_count=2, chunk_starts=[2, 4], chunks_done={0}, total_rows=3, roles={"Partner User": True})
    )
    world.table.change(JOB_ID, updated_at=IDLE, rows_done=2, succeeded=1, failed=1)

    # When the sweeper runs
    sweep(NOW, world.deps, SETTINGS)

    # Then the lost chunk's row is a Processing error, the chunk is counted and the results are asked for
    (outcome,) = world.storage.outcomes[JOB_ID, 1].outcomes
    assert outcome.row == 4 and (outcome.error or "").startswith("Processing error")
    job = world.table[JOB_ID]
    assert (job.chunks_done, job.failed, job.rows_done) == ({0, 1}, 2, 3)
    assert world.aggregate_requests() == [JOB_ID]
    # and the chunk that was done keeps its outcomes (none written for it here)
    assert (JOB_ID, 0) not in world.storage.outcomes


def test_a_lost_chunk_keeps_the_errors_of_rules_1_to_4() -> None:
    world = World()
    world.table.put(a_job(chunk_count=1, chunk_starts=[2], total_rows=3, roles={"Partner User": True}))
    world.table.change(JOB_ID, updated_at=IDLE)
    sweep(NOW, world.deps, SETTINGS)
    errors = [outcome.error for outcome in world.storage.outcomes[JOB_ID, 0].outcomes]
    assert errors[1] == "Missing Contact ID"
    assert errors[0] is not None and errors[0].startswith("Processing error")


def test_a_job_at_work_or_announced_is_left_alone_and_one_jobs_trouble_stops_no_other() -> None:
    # Given a job that progressed within the stall period, an announced one, one whose file is gone, and an idle one
    world = World()
    world.table.put(
        a_job(job_id="busy", chunk_count=1, chunks_done={0}, updated_at=BUSY),
        a_job(job_id="announced", chunk_count=1, chunks_done={0}, updated_at=IDLE, notified_at=IDLE),
        a_job(job_id="gone", source_key="imports/deleted.csv", chunk_count=1, updated_at=IDLE),
        a_job(chunk_count=1, chunks_done={0}, updated_at=IDLE),
    )

    # When the sweeper runs
    swept = sweep(NOW, world.deps, SETTINGS)

    # Then only the idle job is moved on; the one it could not read waits for the next sweep
    assert swept == [JOB_ID] and world.aggregate_requests() == [JOB_ID]
    assert world.table["busy"].updated_at == BUSY
