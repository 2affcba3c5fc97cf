"""Finishing jobs whose progress has stalled: a lost message, a crashed splitter or aggregator.

Run on a schedule. A job that made no progress for the stall period is moved on: a job whose rows are all
accounted for is asked for its results again; a job still splitting is split again; a job whose chunks never
all arrived gets an outcome for every missing row (rules 1-4 as read from the file, otherwise
`Processing error`), so that it completes and notifies.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal_import.config import SweeperSettings
from portal_import.domain.job import Job, JobStatus
from portal_import.domain.messages import AggregateRequest, ChunkOutcomes, Outcome
from portal_import.domain.rules import PROCESSING_ERROR, with_detail
from portal_import.domain.times import iso
from portal_import.flows.completion import request_results_if_ready
from portal_import.flows.split import DroppedFile, SplitDeps, checked_rows, resume_split
from portal_import.observability import logger
from portal_import.ports import ChunkTally, StalledJobs

LOST = with_detail(
    PROCESSING_ERROR, "this row's work was lost and the job was finished without it; upload it again in a new file"
)


@dataclass(frozen=True, kw_only=True)
class SweepDeps(SplitDeps):
    """The splitter's (a stalled split is split again), and what finishing a job without its lost chunks takes."""

    stalled_jobs: StalledJobs
    chunk_tally: ChunkTally


def sweep(now: datetime, deps: SweepDeps, settings: SweeperSettings) -> list[str]:
    """Moves on every job idle for the stall period; returns their ids."""
    stalled_before = iso(now - timedelta(minutes=settings.stalled_job_minutes))
    swept: list[str] = []
    for job in deps.stalled_jobs.open_jobs_idle_since(stalled_before):
        logger.append_keys(job_id=job.job_id)
        try:
            _move_on(job, deps, settings)
            swept.append(job.job_id)
        except Exception:  # noqa: BLE001 - one job's trouble must not keep the others stalled
            logger.exception("Could not finish a stalled job; the next sweep tries again")
    logger.remove_keys(["job_id"])
    return swept


def _move_on(job: Job, deps: SweepDeps, settings: SweeperSettings) -> None:
    deps.stalled_jobs.touch(job.job_id)  # the next sweep gives what starts now a full stall period
    if job.ready_to_aggregate:
        logger.warning("Stalled job has every row accounted for: asking for its results again")
        deps.aggregate_queue.send(AggregateRequest(job_id=job.job_id).to_json())
        return
    _, size = deps.storage.head_import(job.source_bucket, job.source_key, job.source_version_id)
    dropped = DroppedFile(
        bucket=job.source_bucket,
        key=job.source_key,
        version=job.source_version_id or "",
        version_id=job.source_version_id,
        event_time=job.started_at,
        size=size,
    )
    if job.status is JobStatus.SPLITTING:
        logger.warning("Stalled job never finished splitting: splitting it again")
        resume_split(dropped, job.job_id, deps, settings)
        return
    _account_missing_chunks(job, dropped, deps, settings)


def _account_missing_chunks(job: Job, dropped: DroppedFile, deps: SweepDeps, settings: SweeperSettings) -> None:
    missing = {seq for seq in range(job.chunk_count or 0) if seq not in job.chunks_done}
    logger.warning("Stalled job is missing chunks: reporting their rows", extra={"missing_chunks": len(missing)})
    outcomes: dict[int, list[Outcome]] = defaultdict(list)
    _, rows = checked_rows(dropped, job.job_id, deps, settings)
    for row in rows:
        seq = bisect.bisect_right(job.chunk_starts, row.row) - 1
        if seq in missing:
            outcomes[seq].append(
                Outcome(row=row.row, input_contact_id=row.contact_id, input_role=row.role, error=row.error or LOST)
            )
    progress = job
    for seq in sorted(missing):
        rows_of_chunk = outcomes.get(seq, [])
        deps.storage.put_outcomes(ChunkOutcomes(job_id=job.job_id, seq=seq, outcomes=rows_of_chunk))
        failed = sum(1 for outcome in rows_of_chunk if outcome.error)
        progress = deps.chunk_tally.record_chunk(
            job.job_id, seq, rows=len(rows_of_chunk), succeeded=0, failed=failed, emails_queued=0
        )
    request_results_if_ready(progress, deps.channels, deps.aggregate_queue)
    logger.info("Stalled job's missing rows reported")
