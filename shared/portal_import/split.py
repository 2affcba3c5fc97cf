"""Splitting a dropped file into a job: options, the file-level checks, rules 1-4, and the fan-out of rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from portal_import.aws.directory import Directory
from portal_import.aws.jobs import JobStore, now_iso
from portal_import.aws.queues import QueueSender
from portal_import.aws.storage import Storage
from portal_import.completion import request_results_if_ready
from portal_import.config import SplitterSettings
from portal_import.job import Job, JobStatus, job_id_for
from portal_import.messages import ChunkRow, RowChunk
from portal_import.observability import logger
from portal_import.options import ImportOptions, parse_options
from portal_import.reader import FileRejected, Limits, open_import
from portal_import.rules import FileChecks

# Rows per message: large enough that a million rows stay a few thousand messages (shallow queues, few
# requests), small enough that a worker finishes a chunk well within its timeout.
CHUNK_ROWS = 500
# Keeps a chunk under SQS's 256 KiB message limit even when fields are long.
CHUNK_BYTES = 200_000


@dataclass(frozen=True)
class DroppedFile:
    bucket: str
    key: str
    version: str  # the object's version id, or its sequencer when the bucket is not versioned
    version_id: str | None
    event_time: str
    size: int


@dataclass(frozen=True)
class SplitDeps:
    jobs: JobStore
    directory: Directory
    storage: Storage
    rows_queue: QueueSender
    aggregate_queue: QueueSender

    @classmethod
    def build(cls, settings: SplitterSettings, results_bucket: str | None = None) -> SplitDeps:
        return cls(
            jobs=JobStore(settings.jobs_table),
            directory=Directory(settings.directory_table),
            storage=Storage(results_bucket),
            rows_queue=QueueSender(settings.rows_queue_url),
            aggregate_queue=QueueSender(settings.aggregate_queue_url),
        )


def split_file(dropped: DroppedFile, deps: SplitDeps, settings: SplitterSettings) -> str | None:
    """Starts the job for a dropped file; returns its id, or None when this event was already handled."""
    job_id = job_id_for(dropped.bucket, dropped.key, dropped.version, dropped.event_time)
    logger.append_keys(job_id=job_id)
    job = Job(
        job_id=job_id,
        source_bucket=dropped.bucket,
        source_key=dropped.key,
        mode="import",
        send_activation_email=settings.send_activation_email_default,
        status=JobStatus.SPLITTING,
        started_at=now_iso(),
    )
    if not deps.jobs.create(job, source_version=dropped.version, source_version_id=dropped.version_id):
        existing = deps.jobs.get(job_id)
        if existing is None or existing.status is not JobStatus.SPLITTING:
            logger.info("Duplicate S3 event: this file version already has a job", extra={"key": dropped.key})
            if existing is not None:  # the attempt that finished may have failed before asking for results
                request_results_if_ready(existing, deps.jobs, deps.aggregate_queue)
            return None
        # An earlier attempt crashed while splitting (Lambda retries the event): split again. Chunks keep
        # their sequence numbers, so workers count each chunk once whichever attempt delivered it.
        logger.info("Resuming the split of a job whose earlier attempt did not finish")
    resume_split(dropped, job_id, deps, settings)
    return job_id


def resume_split(dropped: DroppedFile, job_id: str, deps: SplitDeps, settings: SplitterSettings) -> None:
    """Reads the whole file and queues every chunk (again, when an earlier attempt died part-way)."""
    try:
        rows, chunk_starts = _fan_out(dropped, job_id, deps, settings)
    except FileRejected as rejected:
        logger.warning("File rejected", extra={"reason": str(rejected)})
        request_results_if_ready(deps.jobs.fail(job_id, str(rejected)), deps.jobs, deps.aggregate_queue)
        return
    progress = deps.jobs.finish_split(job_id, total_rows=rows, chunk_starts=chunk_starts)
    logger.info("File split", extra={"rows": rows, "chunks": len(chunk_starts)})
    # Every chunk may have been done before the split finished, or there were none.
    request_results_if_ready(progress, deps.jobs, deps.aggregate_queue)


def _fan_out(dropped: DroppedFile, job_id: str, deps: SplitDeps, settings: SplitterSettings) -> tuple[int, list[int]]:
    """Returns the number of data records and the first row number of each chunk sent."""
    options, rows = checked_rows(dropped, job_id, deps, settings)
    chunk_starts: list[int] = []
    counted = _Counter()

    def bodies() -> Iterator[str]:
        for chunk in _chunked(counted.rows(rows), job_id, options):
            chunk_starts.append(chunk.rows[0].row)
            yield chunk.to_json()

    deps.rows_queue.send_all(bodies())
    return counted.count, chunk_starts


def checked_rows(
    dropped: DroppedFile, job_id: str, deps: SplitDeps, settings: SplitterSettings
) -> tuple[ImportOptions, Iterator[ChunkRow]]:
    """The job's options, and its data records as chunk rows, rules 1-4 applied (streamed, in file order)."""
    if dropped.size > settings.max_file_bytes:
        raise FileRejected(
            f"The file is {dropped.size:,} bytes, over the {settings.max_file_bytes:,}-byte limit; "
            "split it into smaller files and upload each."
        )
    source = deps.storage.open_import(dropped.bucket, dropped.key, dropped.version_id)
    options = parse_options(source.metadata, send_default=settings.send_activation_email_default)
    deps.jobs.set_options(job_id, mode=options.mode, send_activation_email=options.send_activation_email)
    import_file = open_import(
        source.chunks, Limits(max_rows=settings.max_rows, max_field_chars=settings.max_field_chars)
    )
    checks = FileChecks(deps.directory.active_roles())
    rows = (
        ChunkRow(
            row=checked.row_number, contact_id=checked.input_contact_id, role=checked.input_role, error=checked.error
        )
        for checked in map(checks.check, import_file.records())
    )
    return options, rows


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def rows(self, rows: Iterator[ChunkRow]) -> Iterator[ChunkRow]:
        for row in rows:
            self.count += 1
            yield row


def _chunked(rows: Iterator[ChunkRow], job_id: str, options: ImportOptions) -> Iterator[RowChunk]:
    batch: list[ChunkRow] = []
    size = 0
    seq = 0
    for row in rows:
        row_size = len(f"{row.contact_id}{row.role}{row.error or ''}".encode()) + 64  # JSON keys and quoting
        if batch and (len(batch) >= CHUNK_ROWS or size + row_size > CHUNK_BYTES):
            yield RowChunk(
                job_id=job_id,
                seq=seq,
                mode=options.mode,
                send_activation_email=options.send_activation_email,
                rows=batch,
            )
            seq += 1
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch:
        yield RowChunk(
            job_id=job_id, seq=seq, mode=options.mode, send_activation_email=options.send_activation_email, rows=batch
        )
