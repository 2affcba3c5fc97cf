"""Splitting a dropped file into a job: options, the file-level checks, rules 1-4, and the fan-out of rows.

A file that takes longer to read than one invocation has is read over several: an invocation short of time
records a checkpoint on the job (how many chunks are queued) and queues a continuation. The next invocation reads
the file again from the start, applying rules 1-4 to every record (so a duplicate of a row before the checkpoint
is still found), and sends the chunks from the checkpoint on: chunk boundaries depend only on the file.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from portal_import.config import SplitterSettings
from portal_import.domain.job import Job, JobStatus, job_id_for
from portal_import.domain.messages import ChunkRow, RowChunk, SplitContinuation
from portal_import.domain.options import ImportOptions, parse_options
from portal_import.domain.packing import packed
from portal_import.domain.reader import FileRejected, Limits, open_import
from portal_import.domain.rules import FileChecks
from portal_import.domain.shown import quoted, visible
from portal_import.domain.times import now_iso
from portal_import.flows.completion import request_results_if_ready
from portal_import.observability import logger
from portal_import.ports import Channels, Directory, JobReader, Queue, SplitProgress, Storage

# Rows per message: a million rows are a thousand messages (shallow queues, few requests per row), and a
# worker still finishes a chunk well within its timeout.
CHUNK_ROWS = 1000
# Rows are packed until either limit: this one keeps a chunk message, with its envelope, under SQS's 256 KiB
# limit however long the fields are.
CHUNK_BYTES = 200_000
# A row larger than a whole chunk would make a message SQS refuses (two fields at the field limit, escaped in JSON,
# can take ~384 KB): the file is refused at that row instead. Real Contact IDs and Role names are far shorter.
MAX_ROW_BYTES = CHUNK_BYTES
# Chunks sent between two looks at the clock: a few SendMessageBatch calls.
CHUNKS_PER_BATCH = 10
# With less time than this left before the deadline after a batch, the rest of the file goes to a new invocation:
# ample time to record the checkpoint and queue the continuation even when AWS answers slowly.
TIME_MARGIN_SECONDS = 60.0

# S3 keys are at most 1,024 bytes: a refusal names the whole key.
_SHOWN_KEY_CHARS = 1024

_FILE_CHANGED = (
    "The file changed while it was being read, so its rows cannot be imported consistently; "
    "upload it again as a new file."
)


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
    job_reader: JobReader
    split_progress: SplitProgress
    channels: Channels
    directory: Directory
    storage: Storage
    rows_queue: Queue
    aggregate_queue: Queue
    split_queue: Queue | None  # None: the split goes to the end of the file in one invocation
    clock: Callable[[], float] = field(default=time.time)  # epoch seconds, the clock of a deadline


def split_file(
    dropped: DroppedFile, deps: SplitDeps, settings: SplitterSettings, deadline: float | None = None
) -> str | None:
    """Starts the job for a dropped file (or carries on its split); returns its id, or None when this event was
    already handled. `deadline` (epoch seconds; None: no bound) is when the invocation ends."""
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
    if not deps.split_progress.create(job, source_version=dropped.version, source_version_id=dropped.version_id):
        existing = deps.job_reader.get(job_id)
        if existing is None or existing.status is not JobStatus.SPLITTING:
            logger.info("Duplicate S3 event: this file version already has a job", extra={"key": dropped.key})
            if existing is not None:  # the attempt that finished may have failed before asking for results
                request_results_if_ready(existing, deps.channels, deps.aggregate_queue)
            return None
        # An earlier attempt crashed while splitting (Lambda retries the event): go on from its checkpoint.
        # Chunks keep their sequence numbers, so workers count each chunk once whichever attempt delivered it.
        logger.info("Resuming the split of a job whose earlier attempt did not finish")
        job = existing
    return job_id if _split(dropped, job, deps, settings, carried_from=0, deadline=deadline) else None


def continue_split(
    continuation: SplitContinuation, deps: SplitDeps, settings: SplitterSettings, deadline: float | None = None
) -> None:
    """Goes on with a split that an earlier invocation handed on when its time ran short."""
    logger.append_keys(job_id=continuation.job_id)
    job = deps.job_reader.get(continuation.job_id)
    if job is None:
        logger.warning("A split continuation names a job that does not exist: dropped")
        return
    if job.status is not JobStatus.SPLITTING:
        logger.info("The job's split is already finished: nothing to continue")
        request_results_if_ready(job, deps.channels, deps.aggregate_queue)
        return
    dropped = DroppedFile(
        bucket=continuation.bucket,
        key=continuation.key,
        version=continuation.version,
        version_id=continuation.version_id,
        event_time=continuation.event_time,
        size=continuation.size,
    )
    _split(dropped, job, deps, settings, carried_from=continuation.next_seq, deadline=deadline)


def resume_split(dropped: DroppedFile, job_id: str, deps: SplitDeps, settings: SplitterSettings) -> None:
    """Goes on with a job's split from its checkpoint, whatever stopped it (the sweeper's way on)."""
    job = deps.job_reader.get(job_id)
    if job is None or job.status is not JobStatus.SPLITTING:
        return
    _split(dropped, job, deps, settings, carried_from=None, deadline=None)


def _split(
    dropped: DroppedFile,
    job: Job,
    deps: SplitDeps,
    settings: SplitterSettings,
    *,
    carried_from: int | None,
    deadline: float | None,
) -> bool:
    """Queues the chunks from the job's checkpoint on; records the split once the whole file is read.

    `carried_from` is the checkpoint the delivered event was sent for (0 for the S3 event). When the checkpoint
    has moved on since and its own continuation is queued, this delivery is a duplicate: it does nothing and
    returns False. When that continuation was never queued (its invocation stopped first), this delivery carries
    the split on.
    """
    if carried_from is not None and carried_from != job.split_next_seq:
        if job.split_handed_on:
            logger.info(
                "The split already went on from a later checkpoint: this delivery is a duplicate",
                extra={"delivered_for": carried_from, "checkpoint": job.split_next_seq},
            )
            return False
        logger.info("The continuation from the checkpoint was never queued: going on from the checkpoint")
    try:
        split = _fan_out(dropped, job, deps, settings, deadline if deps.split_queue else None)
    except FileRejected as rejected:
        logger.warning("File rejected", extra={"reason": rejected.loggable})
        request_results_if_ready(
            deps.split_progress.fail(job.job_id, str(rejected)), deps.channels, deps.aggregate_queue
        )
        return True
    if split is not None:
        rows, chunk_starts = split
        progress = deps.split_progress.finish_split(job.job_id, total_rows=rows, chunk_starts=chunk_starts)
        logger.info("File split", extra={"rows": rows, "chunks": len(chunk_starts)})
        # Every chunk may have been done before the split finished, or there were none.
        request_results_if_ready(progress, deps.channels, deps.aggregate_queue)
    return True


def _fan_out(
    dropped: DroppedFile, job: Job, deps: SplitDeps, settings: SplitterSettings, deadline: float | None
) -> tuple[int, list[int]] | None:
    """Sends the chunks from the job's checkpoint on. Returns the number of data records and the first row number
    of every chunk once the whole file is read, or None when it handed the rest on to a new invocation."""
    resume_at = job.split_next_seq
    roles = _roles_of(job, deps)  # the first time, this takes the job's snapshot: once, for both readings
    if resume_at == 0:
        _read_through(checked_rows(dropped, job.job_id, deps, settings, roles=roles)[1])
    options, rows = checked_rows(dropped, job.job_id, deps, settings, roles=roles)
    chunk_starts: list[int] = []
    counted = 0  # data records in the chunks before the current one
    batch: list[RowChunk] = []
    for chunk in _chunked(rows, job.job_id, options):
        if chunk.seq == resume_at and counted != job.split_rows:
            raise FileRejected(_FILE_CHANGED)
        if len(batch) == CHUNKS_PER_BATCH:
            deps.rows_queue.send_all(sent.to_json() for sent in batch)
            batch = []
            # Only after a batch has gone out: every invocation moves the split on, however long the replay took.
            if deadline is not None and deadline - deps.clock() < TIME_MARGIN_SECONDS:
                _hand_on(dropped, job, deps, next_seq=chunk.seq, rows=counted)
                return None
        chunk_starts.append(chunk.rows[0].row)
        if chunk.seq >= resume_at:
            batch.append(chunk)
        counted += len(chunk.rows)
    if len(chunk_starts) < resume_at:
        raise FileRejected(_FILE_CHANGED)
    deps.rows_queue.send_all(sent.to_json() for sent in batch)
    return counted, chunk_starts


def _read_through(rows: Iterator[ChunkRow]) -> None:
    """Reads the whole file once before any chunk goes out, so that a file refused part-way (more rows than the
    limit, a row too large to send, a record that is not CSV) leaves no row processed: workers take chunks as
    soon as they are queued, and users they created could not be taken back. Raises FileRejected."""
    for _ in _sized(rows):
        pass


def _hand_on(dropped: DroppedFile, job: Job, deps: SplitDeps, *, next_seq: int, rows: int) -> None:
    """Records the checkpoint, then queues the continuation from it (in this order: a continuation always finds
    its checkpoint)."""
    if deps.split_queue is None:
        raise RuntimeError("a split can only be handed on when the function has a split queue")
    if not deps.split_progress.checkpoint_split(job.job_id, next_seq=next_seq, rows=rows):
        logger.info("Another invocation got this split further: leaving the rest to it", extra={"next_seq": next_seq})
        return
    continuation = SplitContinuation(
        job_id=job.job_id,
        bucket=dropped.bucket,
        key=dropped.key,
        version=dropped.version,
        version_id=dropped.version_id,
        event_time=dropped.event_time,
        size=dropped.size,
        next_seq=next_seq,
    )
    deps.split_queue.send(continuation.to_json())
    deps.split_progress.mark_split_handed_on(job.job_id, next_seq)
    logger.info("Short of time: the rest of the file goes on in a new invocation", extra={"next_seq": next_seq})


def _roles_of(job: Job, deps: SplitDeps) -> dict[str, bool]:
    """The Roles the job is judged by: read from the directory once, when the job starts, and kept on the job."""
    if job.roles is not None:
        return job.roles
    return deps.split_progress.snapshot_roles(job.job_id, deps.directory.active_roles())


def checked_rows(
    dropped: DroppedFile,
    job_id: str,
    deps: SplitDeps,
    settings: SplitterSettings,
    *,
    roles: Mapping[str, bool] | None = None,
) -> tuple[ImportOptions, Iterator[ChunkRow]]:
    """The job's options, and its data records as chunk rows, rules 1-4 applied (streamed, in file order).

    The options, the Map Fields columns among them, are read from the object's metadata on every reading (the
    continuation's and the sweeper's too), so every reading finds the same columns. `roles` is the job's Role
    snapshot; without it, the snapshot is read from the job."""
    _check_key(dropped.key)
    if dropped.size > settings.max_file_bytes:
        # int(): the S3 event model gives the size as a float, which would read "1,175.0 bytes".
        raise FileRejected(
            f"The file is {int(dropped.size):,} bytes, over the {settings.max_file_bytes:,}-byte limit; "
            "split it into smaller files and upload each."
        )
    if roles is None:
        job = deps.job_reader.get(job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        roles = _roles_of(job, deps)
    source = deps.storage.open_import(dropped.bucket, dropped.key, dropped.version_id)
    options = parse_options(source.metadata, send_default=settings.send_activation_email_default)
    deps.split_progress.set_options(job_id, mode=options.mode, send_activation_email=options.send_activation_email)
    import_file = open_import(
        source.chunks,
        Limits(max_rows=settings.max_rows, max_field_chars=settings.max_field_chars),
        options.columns,
    )
    # Kept with the job for its summary and notification: the aggregator does not read the file.
    deps.split_progress.set_columns(job_id, import_file.column_names)
    checks = FileChecks(roles)
    rows = (
        ChunkRow(
            row=checked.row_number, contact_id=checked.input_contact_id, role=checked.input_role, error=checked.error
        )
        for checked in map(checks.check, import_file.records())
    )
    return options, rows


def _check_key(key: str) -> None:
    """Refuses a file whose key holds a control character (C0, DEL, C1: an escape, a line break, a NUL...): the key
    is what every notice and command names the job by. Other invisible characters (a bidi override, a narrow
    no-break space as in macOS screenshot names) are kept and shown as their escapes."""
    controls = sorted({char for char in key if unicodedata.category(char) == "Cc"})
    if controls:
        what = "a control character" if len(controls) == 1 else "control characters"
        raise FileRejected(
            f"The file's name {quoted(key, _SHOWN_KEY_CHARS)} holds {what} ({', '.join(map(visible, controls))}), "
            "which show as something else or nothing wherever the name is read; rename the file without "
            f"{'it' if len(controls) == 1 else 'them'} and upload it again."
        )


def _chunked(rows: Iterator[ChunkRow], job_id: str, options: ImportOptions) -> Iterator[RowChunk]:
    """Consecutive rows in chunks of up to CHUNK_ROWS rows and CHUNK_BYTES bytes: the same file always gives the
    same chunks, which is what lets a continuation skip those sent before its checkpoint."""
    groups = packed(_sized(rows), max_items=CHUNK_ROWS, max_bytes=CHUNK_BYTES, size=lambda sized: sized[1])
    for seq, group in enumerate(groups):
        yield RowChunk(
            job_id=job_id,
            seq=seq,
            mode=options.mode,
            send_activation_email=options.send_activation_email,
            rows=[row for row, _ in group],
        )


def _sized(rows: Iterator[ChunkRow]) -> Iterator[tuple[ChunkRow, int]]:
    """Each row with its size as it is in the message (escapes and separator included); refuses the file at a row
    too large to be sent."""
    for row in rows:
        size = len(row.to_json().encode()) + 1
        if size > MAX_ROW_BYTES:
            raise FileRejected(
                f"Row {row.row} is too large to process ({size:,} bytes once encoded, over the {MAX_ROW_BYTES:,}-byte "
                "limit of a row), because its ContactId or Role holds a very long or unprintable value; correct that "
                "row and upload the file again."
            )
        yield row, size
